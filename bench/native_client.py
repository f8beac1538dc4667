#!/usr/bin/env python3
"""Benchmark (not a test): the client library's binary protocol against the HTTP
gateways, on one dev cluster (5 replicas, f = 1, real kv-node processes), in
the same run.

Each repetition runs, back to back on the same cluster:
  http-write          build/bin/pbft-loadgen: writes through every replica's HTTP gateway
  native-write        build/bin/pbft-native-load: writes with the client library's own key,
                      every answer verified on f+1 replies MACed for this client
  native-write-signed the same, counting only replies each replica signed
  http-fast           fast reads through the gateways (consistency=fast)
  native-fast         fast reads through the library, verified on n MACed answers
  native-fast-signed  the same on n signed answers
with the same number of connections (clients), 16 B keys and 100 B values.
Prints each run and the medians; --out-md writes them as a table.

    python3 bench/native_client.py [--reps 3] [--connections 16] [--duration 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
os.environ.setdefault("KV_NODE", os.path.join(REPO, "build", "bin", "kv-node"))
from cluster import Cluster  # noqa: E402

BIN = os.path.join(REPO, "build", "bin")
KINDS = ("http-write", "native-write", "native-write-signed", "http-fast", "native-fast", "native-fast-signed")


def command(kind, c, args):
    common = ["--duration", str(args.duration), "--warmup", "1", "--key-size", "16", "--value-size", "100",
              "--keys", "1000"]
    if "fast" in kind:
        common += ["--read-ratio", "1", "--read-path", "fast"]
    if kind.endswith("signed"):
        common.append("--signed-replies")
    if kind.startswith("http"):
        targets = ",".join("http://127.0.0.1:%d" % c.http_port(i) for i in range(5))
        return [os.path.join(BIN, "pbft-loadgen"), "--target", targets, "--connections", str(args.connections)] + common
    return [os.path.join(BIN, "pbft-native-load"), "--base-port", str(c.base), "--clients", str(args.connections)] + common


def run(kind, c, args):
    out = subprocess.run(command(kind, c, args), capture_output=True, text=True, timeout=args.duration + 120)
    if out.returncode != 0:
        sys.exit("%s failed (%d): %s" % (kind, out.returncode, out.stderr.strip()))
    r = json.loads(out.stdout)
    return r["ops_per_s"], r["latency"]["p50_ms"], r.get("errors", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--out-md", help="write the medians as a markdown table here")
    args = ap.parse_args()
    figures = {k: [] for k in KINDS}
    with Cluster(log_filter="warn") as c:
        c.start()
        for i in range(100):  # the keys the fast reads read
            c.put_with_retry(i % 5, "k%015d" % i, "v" * 100)
        for rep in range(args.reps):
            for kind in KINDS:
                ops, p50, errors = run(kind, c, args)
                figures[kind].append((ops, p50))
                print("rep %d %-13s %8.0f ops/s  p50 %6.2f ms  errors %d" % (rep + 1, kind, ops, p50, errors), flush=True)
    med = {k: (statistics.median(o for o, _ in v), statistics.median(p for _, p in v)) for k, v in figures.items()}
    lines = ["| path | ops/s | p50 ms |", "| --- | --- | --- |"]
    lines += ["| %s | %.0f | %.2f |" % (k, med[k][0], med[k][1]) for k in KINDS]
    lines.append("")
    lines.append("native / http: writes %.2fx, fast reads %.2fx; signed / MACed replies: writes %.2fx, fast reads "
                 "%.2fx (medians of %d, %d connections, one run)" % (
                     med["native-write"][0] / med["http-write"][0], med["native-fast"][0] / med["http-fast"][0],
                     med["native-write-signed"][0] / med["native-write"][0],
                     med["native-fast-signed"][0] / med["native-fast"][0], args.reps, args.connections))
    print("\n".join(lines))
    if args.out_md:
        with open(args.out_md, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
