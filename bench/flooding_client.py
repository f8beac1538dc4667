#!/usr/bin/env python3
"""Benchmark (not a test): write throughput while one client floods every replica, as a
share of fault-free throughput, measured in the same run.

Starts the dev cluster (5 replicas, f = 1, real kv-node processes) REPS times fault-free
and REPS times with a flooding client, alternating, and runs build/bin/pbft-loadgen (HTTP
writes through every gateway) for each. The flooding client is dev client 64 speaking the
binary protocol (tests/e2e/native_protocol.py): CONNECTIONS connections to every replica's
client port, each sending valid, MACed fast reads back to back as fast as TCP takes them
(its own replies unread). A replica takes what its rate limit lets through
(limits.client_requests_per_second over all of that client's connections) and reads no
more from a connection until the next request is due; TCP holds the rest back.

    python3 bench/flooding_client.py [--reps 3] [--flood-connections 4] [--duration 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
os.environ.setdefault("KV_NODE", os.path.join(REPO, "build", "bin", "kv-node"))
import native_protocol as proto  # noqa: E402
from cluster import Cluster  # noqa: E402

FLOODER = 64


def flood(c, replica, stop, sent):
    """One connection's flood: the same few kilobytes of MACed fast reads, again and again."""
    link = proto.Link(c.client_port(replica), FLOODER, replica)
    link.sock.settimeout(None)
    chunk = b""
    for n in range(200):
        f = proto.frame(proto.TYPE_REQUEST, proto.request_body(FLOODER, 10 ** 15 + n, proto.get_operation("k%d" % n),
                                                               proto.FLAG_READ_ONLY))
        chunk += f + proto.mac(link.tx, f)
    try:
        while not stop.is_set():
            link.sock.sendall(chunk)
            sent[0] += 200
    except OSError:
        pass  # the replica closed it (idle or stopping)
    link.close()


def metric_sum(c, name, labels):
    total = 0.0
    for i in range(5):
        for line in c.request(i, "GET", "/metrics").body.decode().splitlines():
            if line.startswith(name + labels + " "):
                total += float(line.split()[-1])
    return total


def run(args, flooding):
    with Cluster(log_filter="warn") as c:
        c.start()
        stop, sent, threads = threading.Event(), [0], []
        if flooding:
            for replica in range(5):
                for _ in range(args.flood_connections):
                    t = threading.Thread(target=flood, args=(c, replica, stop, sent), daemon=True)
                    t.start()
                    threads.append(t)
            time.sleep(1)
        targets = ",".join("http://127.0.0.1:%d" % c.http_port(i) for i in range(5))
        out = subprocess.run([args.loadgen, "--target", targets, "--connections", str(args.connections),
                              "--duration", str(args.duration), "--warmup", "1", "--key-size", "16",
                              "--value-size", "100"], capture_output=True, text=True, timeout=args.duration + 120)
        throttled = metric_sum(c, "pbft_client_throttled_total", "")
        answered = metric_sum(c, "pbft_client_requests_total", "")
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if out.returncode != 0:
            sys.exit("pbft-loadgen failed (%d): %s" % (out.returncode, out.stderr.strip()))
        return json.loads(out.stdout)["ops_per_s"], sent[0], answered, throttled


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--flood-connections", type=int, default=4, help="per replica")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--loadgen", default=os.path.join(REPO, "build", "bin", "pbft-loadgen"))
    args = ap.parse_args()
    figures = {"fault-free": [], "flooding client": []}
    for rep in range(args.reps):
        for name in figures:
            ops, sent, passed, throttled = run(args, name != "fault-free")
            figures[name].append(ops)
            extra = "" if name == "fault-free" else \
                "  flood: %d sent (into the socket buffers), %d let through, %d throttles" % (sent, passed, throttled)
            print("rep %d %-16s %8.0f ops/s%s" % (rep + 1, name, ops, extra), flush=True)
    ff, bad = statistics.median(figures["fault-free"]), statistics.median(figures["flooding client"])
    print("flooding client / fault-free: %.0f%% (%.0f vs %.0f ops/s, medians of %d, %d flood connections per replica)"
          % (100 * bad / ff, bad, ff, args.reps, args.flood_connections))


if __name__ == "__main__":
    main()
