#!/usr/bin/env python3
"""Benchmark (not a test): state transfer and whole-cluster restart on a large state.

Starts a 5-replica dev cluster (tests/e2e/cluster.py), loads --bytes of values
(distinct keys, --value-size each, --writers concurrent writers through every
replica), then
  (a) SIGKILLs one replica, wipes its data folder, restarts it and times how long
      until it has fetched the stable checkpoint (state transfer) and caught up;
  (b) SIGKILLs all replicas at once, restarts them and times how long until each
      answers /api/v1/pbft/state and a consensus write succeeds.
Prints a table and writes it as JSON (default bench/results/state_transfer.json).
Python standard library only.

    python3 bench/state_transfer.py --bytes 100M
    make bench-state-transfer BYTES=1G
"""
import argparse
import base64
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in tests/e2e
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import cluster as cluster_mod  # noqa: E402
from cluster import Cluster, DEV_REPLICAS  # noqa: E402

MB = 1e6  # as in kv-node's log lines
UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
         "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}


def parse_size(text):
    """100M, 1G, 512KiB, 1.5GB, 123456 -> bytes (K/M/G decimal, Ki/Mi/Gi binary)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?[iI]?)[bB]?\s*", text)
    if not m or m.group(2).upper() not in UNITS:
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 100M, 1G, 512KiB)" % text)
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def fmt_mb(n):
    return "%.1f MB" % (n / MB)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) ")


def log_times(text, t0):
    """Seconds after t0 (a time.time()) at which a replica's run log shows: its first line,
    'recovered from' (state loaded), 'HTTP on' (serving). None where a line is missing."""
    out = {"first_line": None, "recovered": None, "serving": None}
    for line in text.splitlines():
        m = LOG_TS.match(line)
        if not m:
            continue
        at = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) + float(m.group(1)[19:])
        key = ("first_line" if out["first_line"] is None else
               "recovered" if "recovered from" in line else
               "serving" if " HTTP on " in line else None)
        if key and out[key] is None:
            out[key] = round(at - t0, 3)
    return out


def try_state(c, i, timeout=5):
    try:
        r = c.request(i, "GET", "/api/v1/pbft/state", timeout=timeout)
        return r.json() if r.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def put_retrying(c, i, key, value, deadline):
    """A write retried with the same request-id until acknowledged; returns the answer."""
    rid = str(uuid.uuid4())
    body = json.dumps({"key": key, "value": value}).encode()
    last = None
    while time.time() < deadline:
        try:
            r = c.request(i, "POST", "/api/v1/kv", body, {"request-id": rid}, timeout=60)
            if r.status == 200:
                return r.json()
            last = (r.status, r.body[:200])
            if r.status not in (503, 504):
                raise RuntimeError("write %s refused: %r" % (key, last))
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError("write %s not acknowledged in time (last: %r)" % (key, last))


# --------------------------------------------------------------------- phases
def load(c, args):
    n_keys = max(1, -(-args.bytes // args.value_size))
    next_key = [0]
    done = {"keys": 0, "bytes": 0, "last_seq": 0}
    lock = threading.Lock()
    errors = []
    start = time.time()
    stop_at = start + args.load_seconds_max if args.load_seconds_max > 0 else float("inf")
    raw = args.value_size * 3 // 4 + 3

    def writer(w):
        try:
            while True:
                with lock:
                    n = next_key[0]
                    if n >= n_keys or time.time() > stop_at or errors:
                        return
                    next_key[0] += 1
                key = "bench-%07d" % n
                # Incompressible, distinct: base64 of random bytes.
                value = base64.b64encode(os.urandom(raw)).decode()[:args.value_size]
                ans = put_retrying(c, (w + n) % DEV_REPLICAS, key, value, time.time() + 300)
                with lock:
                    done["keys"] += 1
                    done["bytes"] += len(value)
                    done["last_seq"] = max(done["last_seq"], ans["operation_sequence"])
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(args.writers)]
    for t in threads:
        t.start()
    last_print = 0
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        now = time.time()
        if now - last_print >= args.progress_seconds:
            last_print = now
            el = now - start
            log("load: %s of %s (%d/%d keys), %.1f s, %.1f MB/s"
                % (fmt_mb(done["bytes"]), fmt_mb(n_keys * args.value_size), done["keys"], n_keys, el,
                   done["bytes"] / MB / el if el > 0 else 0))
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    el = time.time() - start
    capped = done["keys"] < n_keys
    log("load done: %s in %d keys, %.1f s, %.1f MB/s%s" % (fmt_mb(done["bytes"]), done["keys"], el,
                                                          done["bytes"] / MB / el,
                                                          " (stopped by --load-seconds-max)" if capped else ""))
    return {"bytes": done["bytes"], "keys": done["keys"], "value_size": args.value_size,
            "writers": args.writers, "seconds": round(el, 2), "mb_per_s": round(done["bytes"] / MB / el, 2),
            "stopped_by_time_limit": capped, "last_operation_sequence": done["last_seq"]}


def settle(c, replicas, last_seq, timeout):
    """Waits until every replica applied last_seq and all agree on last_applied."""
    def ok():
        s = [c.state(i) for i in replicas]
        return all(x["last_applied"] >= last_seq for x in s) and len({x["last_applied"] for x in s}) == 1
    c.wait_for(ok, timeout, "all replicas to apply sequence %d" % last_seq,
               lambda: {i: try_state(c, i) and try_state(c, i)["last_applied"] for i in replicas})
    return {i: c.state(i) for i in replicas}


TRANSFER_RE = re.compile(r"state transfer complete at seq (\d+): ([\d.]+) MB in (\d+) chunks, "
                         r"buckets (\d+)/(\d+), ([\d.]+) MB/s(?:, (\d+) bad replies)?")


def state_transfer(c, args, states):
    r = args.replica
    others = [i for i in range(DEV_REPLICAS) if i != r]
    stable = max(states[i]["last_stable_checkpoint_sequence"] or 0 for i in others)
    applied = max(states[i]["last_applied"] for i in others)
    log("state transfer: SIGKILL replica %d, wipe its folder (%s), restart; cluster stable checkpoint %d, "
        "last applied %d" % (r, fmt_mb(du(c.data_dir(r))), stable, applied))
    c.kill(r)
    c.wipe(r)
    t0 = time.time()
    c.start_replica(r)
    t = {"healthy": None, "transfer_seen": None, "checkpoint": None, "caught_up": None}
    max_bytes = 0
    last_print = t0
    deadline = t0 + args.transfer_seconds_max
    while time.time() < deadline:
        if c.exit_code(r) is not None:
            raise RuntimeError("replica %d exited with %s during the transfer; log:\n%s"
                               % (r, c.exit_code(r), c.run_log(r)[-3000:]))
        s = try_state(c, r)
        now = time.time() - t0
        if s is not None:
            if t["healthy"] is None:
                t["healthy"] = now
            st = s.get("state_transfer")
            if st is not None:
                if t["transfer_seen"] is None:
                    t["transfer_seen"] = now
                max_bytes = max(max_bytes, st.get("bytes", 0))
            if st is None and s["last_applied"] >= stable and t["checkpoint"] is None:
                t["checkpoint"] = now
            if t["checkpoint"] is not None and s["last_applied"] >= applied:
                t["caught_up"] = now
                break
            if time.time() - last_print >= args.progress_seconds:
                last_print = time.time()
                log("  %.1f s: last_applied %s, state_transfer %s" % (now, s["last_applied"], st))
        time.sleep(0.1)
    if t["caught_up"] is None:
        raise RuntimeError("replica %d did not catch up in %s s: %s; log tail:\n%s"
                           % (r, args.transfer_seconds_max, try_state(c, r), c.run_log(r)[-3000:]))
    text = c.run_log(r)
    m = None
    for m in TRANSFER_RE.finditer(text):
        pass
    res = {"replica": r, "stable_checkpoint": stable, "cluster_last_applied": applied,
           "seconds_to_http": round(t["healthy"], 3),
           "seconds_to_first_progress_seen": t["transfer_seen"] and round(t["transfer_seen"], 3),
           "seconds_to_checkpoint": round(t["checkpoint"], 3), "seconds_to_caught_up": round(t["caught_up"], 3),
           "max_bytes_seen_in_state": max_bytes}
    if m:
        mb = float(m.group(2))
        res.update({"transfer_seq": int(m.group(1)), "transfer_mb": mb, "chunks": int(m.group(3)),
                    "buckets": "%s/%s" % (m.group(4), m.group(5)), "mb_per_s_logged": float(m.group(6)),
                    "bad_replies": int(m.group(7) or 0),
                    "mb_per_s_wall": round(mb / t["checkpoint"], 2), "log_line": m.group(0)})
    else:
        res["log_line"] = None
        log("warning: no 'state transfer complete' line in replica %d's log" % r)
    res["data_folder_bytes_after"] = du(c.data_dir(r))
    res["log_timeline_seconds"] = log_times(text, t0)
    return res


def restart_all(c, args, probe_key):
    before = {i: c.state(i)["last_applied"] for i in range(DEV_REPLICAS)}
    log("restart: SIGKILL all %d replicas at once, restart them" % DEV_REPLICAS)
    codes = c.kill_all(signal.SIGKILL)
    t0 = time.time()
    for i in range(DEV_REPLICAS):
        c.start_replica(i)
    up = {}
    deadline = t0 + args.restart_seconds_max
    while len(up) < DEV_REPLICAS and time.time() < deadline:
        for i in range(DEV_REPLICAS):
            if i not in up:
                if c.exit_code(i) is not None:
                    raise RuntimeError("replica %d exited with %s at restart; log:\n%s"
                                       % (i, c.exit_code(i), c.run_log(i)[-3000:]))
                s = try_state(c, i, timeout=2)
                if s is not None:
                    up[i] = (time.time() - t0, s)
        time.sleep(0.05)
    if len(up) < DEV_REPLICAS:
        raise RuntimeError("replicas %s did not answer in %s s" % (sorted(set(range(DEV_REPLICAS)) - set(up)),
                                                                   args.restart_seconds_max))
    put_retrying(c, 0, "bench-after-restart", "ok", t0 + args.restart_seconds_max)
    t_write = time.time() - t0
    ok_read = c.get(3, probe_key, timeout=60).status == 200
    recovered = {}
    for i in range(DEV_REPLICAS):
        lines = [l for l in c.run_log(i).splitlines() if "recovered from" in l]
        recovered[i] = lines[-1].split("node: ", 1)[-1] if lines else None
    timeline = {str(i): log_times(c.run_log(i), t0) for i in range(DEV_REPLICAS)}
    lost = {i: (before[i], up[i][1]["last_applied"]) for i in range(DEV_REPLICAS)
            if up[i][1]["last_applied"] < before[i]}
    return {"exit_codes": {str(i): v for i, v in codes.items()},
            "seconds_to_state": {str(i): round(up[i][0], 3) for i in range(DEV_REPLICAS)},
            "seconds_all_answer_state": round(max(v[0] for v in up.values()), 3),
            "seconds_to_first_consensus_write": round(t_write, 3),
            "consensus_read_after_restart_ok": ok_read,
            "last_applied_before": {str(k): v for k, v in before.items()},
            "last_applied_at_restart": {str(i): up[i][1]["last_applied"] for i in range(DEV_REPLICAS)},
            "replicas_behind_after_restart": lost,
            "recovered_log": {str(k): v for k, v in recovered.items()},
            "log_timeline_seconds": timeline}


def table(res):
    L, T, R = res["load"], res["state_transfer"], res["restart_all"]
    rows = [
        ("state loaded", "%s in %d keys of %d B (%d writers)" % (fmt_mb(L["bytes"]), L["keys"], L["value_size"],
                                                                L["writers"])),
        ("load time", "%.1f s, %.1f MB/s" % (L["seconds"], L["mb_per_s"])),
        ("data folder per replica", ", ".join(fmt_mb(b) for b in res["disk_bytes_per_replica"].values())),
        ("stable checkpoint", "%d (last applied %d)" % (T["stable_checkpoint"], T["cluster_last_applied"])),
        ("(a) wiped replica %d: HTTP up" % T["replica"], "%.2f s" % T["seconds_to_http"]),
        ("(a) state transfer done", "%.2f s" % T["seconds_to_checkpoint"]),
        ("(a) caught up to last applied", "%.2f s" % T["seconds_to_caught_up"]),
    ]
    if T.get("log_line"):
        rows += [("(a) transferred", "%.1f MB in %d chunks, buckets %s" % (T["transfer_mb"], T["chunks"],
                                                                          T["buckets"])),
                 ("(a) transfer rate", "%.1f MB/s (log), %.1f MB/s (wall, from restart)"
                  % (T["mb_per_s_logged"], T["mb_per_s_wall"]))]
    rows += [
        ("(b) restart all: each answers state", " ".join("%s:%.2fs" % kv for kv in
                                                          ((k, v) for k, v in R["seconds_to_state"].items()))),
        ("(b) restart all: state loaded (log)", " ".join(
            "%s:%ss" % (k, v["recovered"]) for k, v in R["log_timeline_seconds"].items())),
        ("(b) restart all: all answer state", "%.2f s" % R["seconds_all_answer_state"]),
        ("(b) restart all: first consensus write", "%.2f s" % R["seconds_to_first_consensus_write"]),
    ]
    w = max(len(a) for a, _ in rows)
    return "\n".join("%-*s  %s" % (w, a, b) for a, b in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bytes", type=parse_size, default=parse_size("1G"),
                    help="total size of the values to load (default 1G = 1e9; 100M, 512MiB, ...)")
    ap.add_argument("--value-size", type=parse_size, default=parse_size("512KiB"), help="default 512KiB")
    ap.add_argument("--writers", type=int, default=3,
                    help="concurrent writers (default 3: more only adds latency on 2 cores, and past ~5 s "
                         "a request triggers a view change)")
    ap.add_argument("--replica", type=int, default=4, help="the replica to wipe (default 4, a backup)")
    ap.add_argument("--load-seconds-max", type=float, default=300,
                    help="stop loading after this long and measure the state reached (default 300; 0: no limit)")
    ap.add_argument("--transfer-seconds-max", type=float, default=1800)
    ap.add_argument("--restart-seconds-max", type=float, default=600)
    ap.add_argument("--progress-seconds", type=float, default=5)
    ap.add_argument("--kv-node", default=os.environ.get("KV_NODE", os.path.join(REPO, "build", "bin", "kv-node")))
    ap.add_argument("--dir", default=None, help="folder for the cluster's temporary data (default: system temp)")
    ap.add_argument("--sync", default=None, help="PBFT_SYNC for every replica (default: kv-node's)")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "state_transfer.json"))
    args = ap.parse_args()
    # Stopped from outside (Ctrl-C, kill, timeout): unwind, so the cluster's
    # processes and temporary folder are removed (also when started in the
    # background, where SIGINT is ignored).
    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    if not os.access(args.kv_node, os.X_OK):
        sys.exit("kv-node not found at %s (make build, or --kv-node PATH)" % args.kv_node)
    if args.value_size > 1000 * 1000:
        sys.exit("--value-size must stay under kv-node's 1 MiB request body limit")
    cluster_mod.KV_NODE = os.path.abspath(args.kv_node)
    if args.sync:
        os.environ["PBFT_SYNC"] = args.sync

    res = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": {"cpus": os.cpu_count(),
                                                                      "platform": platform.platform()},
           "kv_node": cluster_mod.KV_NODE, "target_bytes": args.bytes}
    with Cluster(root=args.dir) as c:
        log("cluster: 5 dev replicas on ports %d.., data in %s" % (c.base, c.dir.name))
        c.start()
        s0 = c.state(0)
        res["storage"] = s0.get("storage")
        log("storage: %s" % s0.get("storage"))
        res["load"] = load(c, args)
        states = settle(c, range(DEV_REPLICAS), res["load"]["last_operation_sequence"], 120)
        res["disk_bytes_per_replica"] = {str(i): du(c.data_dir(i)) for i in range(DEV_REPLICAS)}
        res["state_transfer"] = state_transfer(c, args, states)
        settle(c, range(DEV_REPLICAS), 0, 60)
        res["restart_all"] = restart_all(c, args, "bench-%07d" % 0)
        c.stop()
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print()
    print(table(res))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    print("\nwritten to %s" % args.out)


if __name__ == "__main__":
    main()
