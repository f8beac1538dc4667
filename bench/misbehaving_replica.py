#!/usr/bin/env python3
"""Benchmark (not a test): write throughput with one misbehaving replica, as a
share of fault-free throughput, measured in the same run.

Starts the dev cluster (5 replicas, f = 1, real kv-node processes) REPS times
fault-free and REPS times with one replica in a test-only misbehaviour mode,
alternating, and runs build/bin/pbft-loadgen against every gateway for each.
Prints each run and the share of the medians.

  --mode slow-primary  replica 0, the first primary, holds each batch for 80%
                       of the view-change timeout
  --mode flood         replica 4, a backup, sends each peer 256 prepares with
                       broken signatures every tick (about 25,000 a second
                       each), each costing the receiver a signature check

    python3 bench/misbehaving_replica.py --mode slow-primary [--reps 2] [--connections 16] [--duration 10]
    python3 bench/misbehaving_replica.py --mode flood
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

MODES = {"slow-primary": 0, "flood": 4}  # the replica that misbehaves in each


def misbehaving(mode):
    return {MODES[mode]: {"PBFT_MISBEHAVE": mode, "PBFT_ALLOW_MISBEHAVIOUR": "1"}}


def run(args, env):
    with Cluster(replica_env=env) as c:
        c.start()
        targets = ",".join("http://127.0.0.1:%d" % c.http_port(i) for i in range(5))
        out = subprocess.run([args.loadgen, "--target", targets, "--connections", str(args.connections),
                              "--duration", str(args.duration), "--warmup", "0", "--key-size", "16",
                              "--value-size", "100"], capture_output=True, text=True, timeout=args.duration + 120)
        if out.returncode != 0:
            sys.exit("pbft-loadgen failed (%d): %s" % (out.returncode, out.stderr.strip()))
        result = json.loads(out.stdout)
        return result["ops_per_s"], result.get("errors", 0), [c.state(i)["view"] for i in range(5)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=sorted(MODES), default="slow-primary")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--loadgen", default=os.path.join(REPO, "build", "bin", "pbft-loadgen"))
    args = ap.parse_args()
    figures = {"fault-free": [], args.mode: []}
    for rep in range(args.reps):
        for name, env in (("fault-free", None), (args.mode, misbehaving(args.mode))):
            ops, errors, views = run(args, env)
            figures[name].append(ops)
            print("rep %d %-12s %8.0f ops/s  errors %d  views %s" % (rep + 1, name, ops, errors, views), flush=True)
    ff, bad = statistics.median(figures["fault-free"]), statistics.median(figures[args.mode])
    print("%s / fault-free: %.0f%% (%.0f vs %.0f ops/s, medians of %d)" % (args.mode, 100 * bad / ff, bad, ff, args.reps))


if __name__ == "__main__":
    main()
