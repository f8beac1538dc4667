#!/usr/bin/env python3
"""Benchmark (not a test): each replica's memory over a long saturated run.

Starts pbft-kv n = 4 (real kv-node processes, RocksDB, sync = always, the
config of `kvctl config init`), runs one build/bin/pbft-loadgen run of
--duration seconds at --connections closed-loop connections (16 B keys out
of --keys, 100 B values, a --read-ratio share of fast reads), samples every
replica's RSS every --sample-s seconds, and stops everything.

Prints a line per sample, then a summary per replica: RSS once the warm-up
is over (the first sample at or after --settle-s), the highest, the last,
and the growth over the second half of the run. Writes every sample to
bench/results/soak.json (--out). Exits 1 if a replica died or the load
generator failed.

    python3 bench/soak.py --duration 1800            # 30 minutes
    python3 bench/soak.py --duration 600 --read-ratio 0.5
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "bench"))
from run_bench import PbftSystem, log, rss_kb  # noqa: E402


def mib(kb):
    return kb / 1024.0 if kb is not None else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1800, help="measured seconds (default 1800)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--read-ratio", type=float, default=0.0)
    ap.add_argument("--keys", type=int, default=10000, help="key space (default 10000)")
    ap.add_argument("--sample-s", type=float, default=30, help="seconds between RSS samples")
    ap.add_argument("--settle-s", type=float, default=60, help="the baseline is the first sample after this")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "soak.json"))
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="pbft-soak-")
    system = PbftSystem("pbft-kv n=4", 4, root, args.bin_dir)
    log("starting 4 replicas in %s" % root)
    try:
        system.start()
    except BaseException:
        system.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    pids = system.pids()
    out_json = os.path.join(root, "load.json")
    argv = [os.path.join(args.bin_dir, "pbft-loadgen"), "--target", ",".join(system.targets()),
            "--connections", str(args.connections), "--duration", str(args.duration), "--warmup", "0",
            "--keys", str(args.keys), "--read-ratio", str(args.read_ratio), "--read-path", "fast",
            "--json", out_json]
    samples = []
    t0 = time.time()
    load = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    failed = None
    try:
        while True:
            now = time.time() - t0
            row = {"t_s": round(now, 1), "rss_kb": {m: rss_kb(p) for m, p in pids.items()}}
            samples.append(row)
            log("%6.0f s  %s" % (now, "  ".join("%s %.1f MiB" % (m, mib(v)) for m, v in row["rss_kb"].items())))
            try:
                system.check_alive()
            except RuntimeError as e:
                failed = str(e)
                break
            if load.poll() is not None:
                break
            time.sleep(min(args.sample_s, max(0.5, args.duration + 5 - now)))
        load.wait()
        stderr = load.stderr.read().decode("utf-8", "replace").strip()
        if failed is None and (load.returncode != 0 or not os.path.exists(out_json)):
            failed = "pbft-loadgen exited %s: %s" % (load.returncode, stderr)
        result = {}
        if os.path.exists(out_json):
            with open(out_json) as f:
                result = json.load(f)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
        system.stop()
        shutil.rmtree(root, ignore_errors=True)

    settled = next((s for s in samples if s["t_s"] >= args.settle_s), samples[0])
    half = next((s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2), samples[0])
    summary = {}
    for m in pids:
        values = [s["rss_kb"][m] for s in samples if s["rss_kb"][m] is not None]
        if not values:
            continue
        summary[m] = {"settled_kb": settled["rss_kb"][m], "max_kb": max(values), "end_kb": values[-1],
                      "second_half_growth_kb": values[-1] - (half["rss_kb"][m] or values[-1])}
    print()
    print("%d s at %d connections (read ratio %.2f): %.0f ops/s, p50 %.2f ms, %d errors" % (
        args.duration, args.connections, args.read_ratio, result.get("ops_per_s", 0),
        result.get("latency", {}).get("p50_ms", 0), result.get("errors", 0)))
    print("| replica | after %.0f s | highest | end | second half |" % settled["t_s"])
    print("| --- | ---: | ---: | ---: | ---: |")
    for m, s in summary.items():
        print("| %s | %.1f MiB | %.1f MiB | %.1f MiB | %+.1f MiB |" % (
            m, mib(s["settled_kb"]), mib(s["max_kb"]), mib(s["end_kb"]), mib(s["second_half_growth_kb"])))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t0)),
                   "machine": platform.node(), "settings": system.settings(), "args": vars(args),
                   "load": result, "samples": samples, "summary": summary, "failed": failed}, f, indent=1)
    print("written: %s" % args.out)
    if failed:
        print("FAILED: %s" % failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
