#!/usr/bin/env python3
"""Benchmark (not a test): pbft-kv n = 1, pbft-kv n = 4 and a 3-member etcd, same load.

Runs build/bin/pbft-loadgen (closed loop, keep-alive HTTP connections spread
over every member's HTTP port) against each system in turn, interleaved:
repetition 1 runs every system, then repetition 2 does, each repetition in
a rotated order, each system started fresh in a temporary folder and
stopped after its sweep. A sweep is writes (16-byte keys, 100-byte values)
at each concurrency of --concurrency, then reads at --read-connections.
Durability is each system's default: pbft-kv storage.sync = always
(RocksDB, fsync before a message that depends on a write leaves), etcd's
WAL fsync per commit.

Writes BENCHMARKS.md at the repository root (medians over the repetitions,
the ratios the project targets, the machine and commit), and
bench/results/bench.json (every run) and bench/results/bench.png (charts).
A run with more than --max-error-ratio of failed requests is reported as
failed and the script exits 1 (after writing everything).

Installs etcd-server, etcd-client and gnuplot-nox with apt-get if they are
missing. Python standard library only.

    python3 bench/run_bench.py                      # make bench
    python3 bench/run_bench.py --quick              # make bench QUICK=1: a smoke test of about a minute,
                                                    # written to bench/results/quick/
    python3 bench/run_bench.py --reps 5 --duration 10 --read-path ordered
"""
import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in tests/e2e
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from cluster import free_base_port  # noqa: E402

SYSTEMS = ["pbft-n1", "pbft-n4", "etcd-3"]
LABELS = {"pbft-n1": "pbft-kv n=1", "pbft-n4": "pbft-kv n=4", "etcd-3": "etcd 3 members"}
# Kept when BENCHMARKS.md is written again: everything below this line.
NOTES_MARKER = "<!-- Notes below this line are kept when run_bench.py writes the file again. -->"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def fmt_duration(s):
    s = int(round(s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


def http_get(port, path, timeout=2.0, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_for(cond, timeout, what, detail=lambda: ""):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if cond():
                return
        except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("timed out after %ss waiting for %s (last error: %r) %s" % (timeout, what, last, detail()))


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------- systems
class Processes:
    """Members of one system: started in `root`, each with its log file."""

    def __init__(self, name, root):
        self.name = name
        self.root = root
        self.procs = []  # (member name, Popen, log path)

    def spawn(self, member, argv, env=None):
        log_path = os.path.join(self.root, member + ".log")
        with open(log_path, "ab") as out:
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((member, p, log_path))
        return p

    def check_alive(self):
        for member, p, log_path in self.procs:
            if p.poll() is not None:
                with open(log_path, "rb") as f:
                    tail = f.read()[-3000:].decode("utf-8", "replace")
                raise RuntimeError("%s member %s exited with %s; log tail:\n%s" % (self.name, member, p.returncode,
                                                                                  tail))

    def pids(self):
        return {member: p.pid for member, p, _ in self.procs}

    def stop(self):
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for _, p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


class PbftSystem(Processes):
    def __init__(self, name, n, root, bin_dir, sync=None):
        super().__init__(name, root)
        self.n = n
        self.sync = sync  # None: the config's default (always)
        self.bin_dir = bin_dir
        self.base = free_base_port()

    def start(self):
        cfg = os.path.join(self.root, "config")
        subprocess.run([os.path.join(self.bin_dir, "kvctl"), "config", "init", "--replicas", str(self.n),
                        "--base-port", str(self.base), "--out", cfg], check=True, stdout=subprocess.DEVNULL)
        for i in range(self.n):
            env = dict(os.environ)
            env["PBFT_DATA_DIR"] = os.path.join(self.root, "replica-%d" % i)
            env.pop("PBFT_SYNC", None)
            env.pop("PBFT_STORAGE", None)
            if self.sync:
                env["PBFT_SYNC"] = self.sync
            self.spawn("replica%d" % i, [os.path.join(self.bin_dir, "kv-node"), "--config",
                                          os.path.join(cfg, "replica-%d.toml" % i)], env=env)
        for i in range(self.n):
            wait_for(lambda: http_get(self.base + i, "/api/v1/ready")[0] == 200, 30,
                     "%s replica %d to be ready" % (self.name, i), self.check_alive)
        body = json.dumps({"key": "bench-probe", "value": "ok"}).encode()
        wait_for(lambda: http_get(self.base, "/api/v1/kv", 10, "POST", body)[0] == 200, 30,
                 "%s to commit a first write" % self.name)

    def targets(self):
        return ["http://127.0.0.1:%d" % (self.base + i) for i in range(self.n)]

    def mode(self):
        return "pbft"

    def settings(self):
        with open(os.path.join(self.root, "config", "replica-0.toml")) as f:
            text = f.read()
        if self.sync:
            text = text.replace('sync = "always"', 'sync = "%s"' % self.sync)
        keep = [l.strip() for l in text.splitlines() if l.split("=")[0].strip() in
                ("sync", "engine", "checkpoint_interval", "window_size", "pipeline_depth_max", "batch_requests_max",
                 "batch_requests_min")]
        return ", ".join(keep)


class EtcdSystem(Processes):
    MEMBERS = 3

    def __init__(self, name, root, etcd):
        super().__init__(name, root)
        self.etcd = etcd
        self.base = free_base_port()

    def client_port(self, i):
        return self.base + i

    def peer_port(self, i):
        return self.base + 100 + i

    def start(self):
        cluster = ",".join("m%d=http://127.0.0.1:%d" % (i, self.peer_port(i)) for i in range(self.MEMBERS))
        for i in range(self.MEMBERS):
            c, p = "http://127.0.0.1:%d" % self.client_port(i), "http://127.0.0.1:%d" % self.peer_port(i)
            self.spawn("m%d" % i, [self.etcd, "--name", "m%d" % i, "--data-dir", os.path.join(self.root, "m%d" % i),
                                   "--listen-client-urls", c, "--advertise-client-urls", c,
                                   "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                                   "--initial-cluster", cluster, "--initial-cluster-token", "bench-%d" % self.base,
                                   "--initial-cluster-state", "new", "--logger", "zap", "--log-level", "warn"])
        for i in range(self.MEMBERS):
            wait_for(lambda: b'"true"' in http_get(self.client_port(i), "/health")[1], 30,
                     "etcd member %d to be healthy" % i, self.check_alive)
        body = json.dumps({"key": "YmVuY2gtcHJvYmU=", "value": "b2s="}).encode()
        wait_for(lambda: http_get(self.client_port(0), "/v3/kv/put", 10, "POST", body)[0] == 200, 30,
                 "etcd to commit a first write")

    def targets(self):
        return ["http://127.0.0.1:%d" % self.client_port(i) for i in range(self.MEMBERS)]

    def mode(self):
        return "etcd"

    def settings(self):
        return "defaults (WAL fsync on every commit), --logger zap --log-level warn"


def etcd_version(etcd):
    try:
        out = subprocess.run([etcd, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].replace("etcd Version: ", "") if out else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


# --------------------------------------------------------------------- setup
def ensure_packages(args):
    """etcd and gnuplot from Debian when missing (apt-get, as root or with sudo)."""
    wanted = []
    if not shutil.which("etcd"):
        wanted += ["etcd-server", "etcd-client"]
    if not shutil.which("gnuplot"):
        wanted += ["gnuplot-nox"]
    if not wanted:
        return
    if args.no_install:
        sys.exit("missing: %s (install them, or drop --no-install)" % " ".join(wanted))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log("installing %s with apt-get" % " ".join(wanted))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + wanted, check=True, env=env)
    if not shutil.which("etcd"):
        sys.exit("etcd is still missing after installing etcd-server")


def git(*argv):
    try:
        return subprocess.run(["git", "-C", REPO, *argv], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError):
        mem_kb = 0
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "platform": platform.platform()}


# --------------------------------------------------------------------- runs
def run_loadgen(args, system, connections, read_ratio, label):
    """One pbft-loadgen run; returns its JSON with the loadgen's own CPU time and the members' CPU and RSS."""
    out_path = os.path.join(args.tmp, "run.json")
    argv = [args.loadgen, "--mode", system.mode(), "--target", ",".join(system.targets()),
            "--connections", str(connections), "--duration", str(args.duration), "--warmup", str(args.warmup),
            "--key-size", str(args.key_size), "--value-size", str(args.value_size), "--keys", str(args.keys),
            "--read-ratio", str(read_ratio), "--read-path", args.read_path, "--timeout-ms", str(args.timeout_ms),
            "--max-error-ratio", str(args.max_error_ratio), "--label", label, "--json", out_path]
    pids = system.pids()
    rss_before = {m: rss_kb(p) for m, p in pids.items()}
    cpu_before = {m: cpu_seconds(p) for m, p in pids.items()}
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # wait4: the load generator's own CPU time (it shares the two cores).
        _, status, usage = os.wait4(p.pid, 0)
    except BaseException:  # interrupted: the load generator goes too
        p.kill()
        p.wait()
        raise
    p.returncode = os.waitstatus_to_exitcode(status)
    stderr = p.stderr.read().decode("utf-8", "replace")
    p.stdout.close()
    p.stderr.close()
    wall = time.time() - t0
    system.check_alive()
    if p.returncode not in (0, 3) or not os.path.exists(out_path):
        raise RuntimeError("pbft-loadgen failed (exit %s) against %s: %s" % (p.returncode, system.name, stderr.strip()))
    with open(out_path) as f:
        res = json.load(f)
    os.unlink(out_path)
    res["exit_code"] = p.returncode
    res["failed"] = p.returncode != 0
    if p.returncode == 3:
        res["failure"] = stderr.strip()
    res["loadgen_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    res["wall_s"] = round(wall, 2)
    res["members_rss_kb_before"] = rss_before
    res["members_rss_kb_after"] = {m: rss_kb(p) for m, p in pids.items()}
    cpu_after = {m: cpu_seconds(p) for m, p in pids.items()}
    res["members_cpu_s"] = {m: round(cpu_after[m] - cpu_before[m], 3) for m in pids
                            if cpu_after.get(m) is not None and cpu_before.get(m) is not None}
    return res


def sweep_steps(args):
    steps = [("write", c, 0.0) for c in args.concurrency]
    if args.read_connections:
        steps.append(("read", args.read_connections, 1.0))
    return steps


def make_system(args, name, root):
    if name == "pbft-n1":
        return PbftSystem(name, 1, root, args.bin_dir, args.pbft_sync)
    if name == "pbft-n4":
        return PbftSystem(name, 4, root, args.bin_dir, args.pbft_sync)
    return EtcdSystem(name, root, shutil.which("etcd"))


def run_all(args):
    steps = sweep_steps(args)
    systems = [s for s in SYSTEMS if s in args.systems]
    total = args.reps * len(systems) * len(steps)
    runs, systems_info = [], {}
    done = 0
    started = time.time()
    for rep in range(args.reps):
        order = systems[rep % len(systems):] + systems[:rep % len(systems)]
        for name in order:
            root = tempfile.mkdtemp(prefix="pbft-bench-%s-" % name, dir=args.tmp)
            system = make_system(args, name, root)
            log("rep %d/%d: starting %s" % (rep + 1, args.reps, LABELS[name]))
            try:
                t0 = time.time()
                system.start()
                log("  %s up in %.1f s: %s" % (name, time.time() - t0, ", ".join(system.targets())))
                systems_info.setdefault(name, {"settings": system.settings()})
                rss_start = {m: rss_kb(p) for m, p in system.pids().items()}
                for kind, conns, ratio in steps:
                    res = run_loadgen(args, system, conns, ratio, "%s %s c=%d rep %d" % (name, kind, conns, rep + 1))
                    res.update({"system": name, "rep": rep + 1, "kind": kind})
                    runs.append(res)
                    done += 1
                    eta = (time.time() - started) / done * (total - done)
                    lat = res["latency"]
                    log("  [%d/%d] %-8s %-5s c=%-3d %9.0f ops/s  p50 %7.2f ms  p99 %7.2f ms  errors %d%s  "
                        "(ETA %s)" % (done, total, name, kind, conns, res["ops_per_s"], lat["p50_ms"], lat["p99_ms"],
                                     res["errors"], "  FAILED: " + res["failure"] if res["failed"] else "",
                                     fmt_duration(eta)))
                rss_end = {m: rss_kb(p) for m, p in system.pids().items()}
                runs.append({"system": name, "rep": rep + 1, "kind": "rss", "rss_kb_start": rss_start,
                             "rss_kb_end": rss_end})
            finally:
                system.stop()
                shutil.rmtree(root, ignore_errors=True)
    return runs, systems_info


# --------------------------------------------------------------------- summary
def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs, args):
    """Medians over the repetitions, by (system, kind, connections)."""
    groups = {}
    for r in runs:
        if r["kind"] in ("write", "read"):
            groups.setdefault((r["system"], r["kind"], r["connections"]), []).append(r)
    med = {}
    for key, rs in groups.items():
        med[key] = {
            "reps": len(rs),
            "ops_per_s": median(r["ops_per_s"] for r in rs),
            "ops_per_s_min": min(r["ops_per_s"] for r in rs),
            "ops_per_s_max": max(r["ops_per_s"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
            "requests": sum(r["ops"] + r["errors"] for r in rs),
            "failed_runs": sum(1 for r in rs if r["failed"]),
            "loadgen_cpu_share": median(r["loadgen_cpu_s"] / r["wall_s"] for r in rs),
            "members_cpu_share": median(sum(r["members_cpu_s"].values()) / r["wall_s"] for r in rs),
        }
        for p in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms"):
            med[key][p] = median(r["latency"][p] for r in rs)
    return med


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def targets(med, runs, args):
    sat = args.saturation_connections
    w = lambda s, c: med.get((s, "write", c), {})  # noqa: E731
    rd = med.get(("pbft-n4", "read", args.read_connections), {})
    rows = []

    def row(what, value, target, ok, note=""):
        rows.append({"what": what, "value": value, "target": target, "ok": ok, "note": note})

    t4, t1, te = w("pbft-n4", sat).get("ops_per_s"), w("pbft-n1", sat).get("ops_per_s"), w("etcd-3", sat).get("ops_per_s")
    r = ratio(t4, te)
    row("n=4 write throughput / etcd 3 members (c=%d)" % sat, r and "%.2fx (%s vs %s ops/s)" % (r, fmt_ops(t4), fmt_ops(te)),
        ">= 3x", r is not None and r >= 3)
    r = ratio(t4, t1)
    row("n=4 / n=1 write throughput (c=%d, same durability)" % sat,
        r and "%.0f%% (%s vs %s ops/s)" % (100 * r, fmt_ops(t4), fmt_ops(t1)), ">= 65%", r is not None and r >= 0.65)
    p = w("pbft-n4", sat).get("p50_ms")
    row("n=4 write p50 at c=%d" % sat, p and "%.2f ms" % p, "< 5 ms", p is not None and p < 5)
    p4, p1 = w("pbft-n4", 1).get("p50_ms"), w("pbft-n1", 1).get("p50_ms")
    r = ratio(p4, p1)
    row("n=4 / n=1 write p50, one connection", r and "%.2fx (%.2f vs %.2f ms)" % (r, p4, p1), "<= 5x",
        r is not None and r <= 5)
    tr = rd.get("ops_per_s")
    r = ratio(tr, t4)
    row("n=4 reads (%s) / writes (c=%d)" % (args.read_path, args.read_connections),
        r and "%.2fx (%s vs %s ops/s)" % (r, fmt_ops(tr), fmt_ops(t4)), ">= 1.5x", r is not None and r >= 1.5,
        "ordered reads; the read-only fast path is measured with --read-path fast" if args.read_path == "ordered"
        else "")
    # Memory: each n=4 replica's RSS before and after the saturated run, worst growth over the repetitions.
    sat_runs = [x for x in runs if x["system"] == "pbft-n4" and x["kind"] == "write" and x["connections"] == sat]
    growth = []
    for x in sat_runs:
        for m, before in x["members_rss_kb_before"].items():
            after = x["members_rss_kb_after"].get(m)
            if before and after:
                growth.append((after - before, m, before, after))
    if growth:
        g = max(growth)
        row("n=4 replica RSS over the saturated run (worst replica)",
            "%s: %.1f -> %.1f MiB (%+.1f MiB)" % (g[1], g[2] / 1024, g[3] / 1024, g[0] / 1024),
            "bounded, flat", None, "see the RSS table")
    return rows


def fmt_ops(x):
    return "-" if x is None else "{:,.0f}".format(x)


def fmt_ms(x):
    return "-" if x is None else ("%.2f" % x if x < 100 else "%.0f" % x)


def write_markdown(path, med, rows, runs, info, args, meta):
    sat = args.saturation_connections
    L = []
    L.append("# Benchmarks")
    L.append("")
    L.append("Written by `bench/run_bench.py` (`make bench`); do not edit above the notes marker. "
             "Medians of %d interleaved repetitions, each system started fresh for each repetition." % args.reps)
    L.append("")
    L.append("| | |")
    L.append("| --- | --- |")
    L.append("| when | %s to %s |" % (meta["started"], meta["finished"]))
    L.append("| commit | `%s`%s |" % (meta["commit"], " (with uncommitted changes)" if meta["dirty"] else ""))
    L.append("| machine | %s, %d CPUs, %.0f GiB, Linux %s |" % (meta["machine"]["cpu"], meta["machine"]["cpus"],
                                                              meta["machine"]["memory_gib"], meta["machine"]["kernel"]))
    L.append("| load average (1 min) | %.1f at start, %.1f at end%s |" % (
        meta["loadavg_start"], meta["loadavg_end"],
        ": the machine was shared with other work, so figures are noisy" if max(meta["loadavg_start"],
                                                                              meta["loadavg_end"]) > 1.5 else ""))
    L.append("| command | `%s` |" % meta["command"])
    L.append("| load | pbft-loadgen, closed loop, keep-alive connections spread over every member's HTTP port; "
             "%d B keys (%d of them), %d B values; %g s warm-up + %g s measured per point |" % (
                 args.key_size, args.keys, args.value_size, args.warmup, args.duration))
    for s in SYSTEMS:
        if s in info:
            L.append("| %s | %s |" % (LABELS[s], info[s]["settings"]))
    L.append("| etcd | %s, PUT through its v3 JSON gateway (`/v3/kv/put`, reads `/v3/kv/range`, linearizable) |"
             % meta["etcd_version"])
    L.append("")
    L.append("## Targets (saturated writes: %d connections)" % sat)
    L.append("")
    L.append("| what | measured | target | |")
    L.append("| --- | --- | --- | --- |")
    for r in rows:
        mark = "n/a" if r["ok"] is None else ("met" if r["ok"] else "**missed**")
        L.append("| %s | %s | %s | %s%s |" % (r["what"], r["value"] or "-", r["target"], mark,
                                             " (%s)" % r["note"] if r["note"] else ""))
    L.append("")
    L.append("## Writes")
    L.append("")
    L.append("ops/s is the median (min..max over the repetitions); latencies in ms are medians of each "
             "repetition's percentile.")
    L.append("")
    L.append("| system | connections | ops/s | p50 | p90 | p99 | p99.9 | errors | loadgen CPU | members CPU |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in SYSTEMS:
        for c in args.concurrency:
            m = med.get((s, "write", c))
            if m:
                L.append(table_row(s, c, m))
    if args.read_connections:
        L.append("")
        L.append("## Reads (%s)" % args.read_path)
        L.append("")
        L.append("pbft-kv: `GET /api/v1/kv?key=K`%s; etcd: linearizable range%s. Keys drawn from the same key "
                 "space as the writes (most exist)." % (
                     " (through ordering)" if args.read_path == "ordered" else
                     "&consistency=fast" if args.read_path == "fast" else " /local",
                     " (serializable)" if args.read_path == "local" else ""))
        L.append("")
        L.append("| system | connections | ops/s | p50 | p90 | p99 | p99.9 | errors | loadgen CPU | members CPU |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in SYSTEMS:
            m = med.get((s, "read", args.read_connections))
            if m:
                L.append(table_row(s, args.read_connections, m))
    L.append("")
    L.append("## Memory (RSS, MiB)")
    L.append("")
    L.append("Each member at the start and end of its system's sweep, and around the saturated write run "
             "(c=%d); the last repetition." % sat)
    L.append("")
    L.append("| system | member | sweep start | sweep end | before c=%d | after c=%d |" % (sat, sat))
    L.append("| --- | --- | ---: | ---: | ---: | ---: |")
    last_rep = max((r["rep"] for r in runs), default=0)
    for s in SYSTEMS:
        rss = [r for r in runs if r["system"] == s and r["kind"] == "rss" and r["rep"] == last_rep]
        satr = [r for r in runs if r["system"] == s and r["kind"] == "write" and r["connections"] == sat
                and r["rep"] == last_rep]
        if not rss:
            continue
        for member in rss[0]["rss_kb_start"]:
            mib = lambda kb: "-" if not kb else "%.1f" % (kb / 1024)  # noqa: E731
            b = satr[0]["members_rss_kb_before"].get(member) if satr else None
            a = satr[0]["members_rss_kb_after"].get(member) if satr else None
            L.append("| %s | %s | %s | %s | %s | %s |" % (LABELS[s], member, mib(rss[0]["rss_kb_start"][member]),
                                                        mib(rss[0]["rss_kb_end"].get(member)), mib(b), mib(a)))
    L.append("")
    rel = lambda f: os.path.relpath(os.path.join(args.results, f), os.path.dirname(os.path.abspath(path)))  # noqa: E731
    L.append("Charts: `%s` (throughput against connections; latency percentiles). "
             "Every run: `%s`." % (rel("bench.png"), rel("bench.json")))
    L.append("")
    L.append("![throughput and latency](%s)" % rel("bench.png"))
    L.append("")
    failed = [r for r in runs if r.get("failed")]
    if failed:
        L.append("## Failed runs")
        L.append("")
        L.append("More than %g%% of the requests failed in these runs:" % (100 * args.max_error_ratio))
        L.append("")
        for r in failed:
            L.append("- %s: %s" % (r["label"], r.get("failure", "")))
        L.append("")
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if NOTES_MARKER in old:
            notes = old.split(NOTES_MARKER, 1)[1].lstrip("\n")
    L.append(NOTES_MARKER)
    L.append("")
    text = "\n".join(L) + ("\n" + notes if notes else "")
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def table_row(s, c, m):
    errors = "%d of %d" % (m["errors"], m["requests"]) if m["errors"] else "0"
    if m["failed_runs"]:
        errors += " (**%d failed runs**)" % m["failed_runs"]
    spread = "%s (%s..%s)" % (fmt_ops(m["ops_per_s"]), fmt_ops(m["ops_per_s_min"]), fmt_ops(m["ops_per_s_max"])) \
        if m["reps"] > 1 else fmt_ops(m["ops_per_s"])
    return "| %s | %d | %s | %s | %s | %s | %s | %s | %.0f%% | %.0f%% |" % (
        LABELS[s], c, spread, fmt_ms(m["p50_ms"]), fmt_ms(m["p90_ms"]), fmt_ms(m["p99_ms"]), fmt_ms(m["p999_ms"]),
        errors, 100 * (m["loadgen_cpu_share"] or 0), 100 * (m["members_cpu_share"] or 0))


def plot(med, args, png):
    """Three panels: write throughput against connections; write p50 and p99 against connections;
    p50..p99.9 of writes at the saturation point."""
    d = tempfile.mkdtemp(prefix="pbft-bench-plot-", dir=args.tmp)
    present = [s for s in SYSTEMS if any(k[0] == s for k in med)]
    for s in present:
        with open(os.path.join(d, s + ".dat"), "w") as f:
            for c in args.concurrency:
                m = med.get((s, "write", c))
                if m:
                    f.write("%d %f %f %f %f %f\n" % (c, m["ops_per_s"], m["ops_per_s_min"], m["ops_per_s_max"],
                                                    m["p50_ms"], m["p99_ms"]))
    sat = args.saturation_connections
    with open(os.path.join(d, "pct.dat"), "w") as f:
        f.write("pct " + " ".join('"%s"' % LABELS[s] for s in present) + "\n")
        for p, name in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
            f.write("%s %s\n" % (name, " ".join("%f" % (med.get((s, "write", sat), {}).get(p) or 0) for s in present)))
    colors = {"pbft-n1": "#1f77b4", "pbft-n4": "#d62728", "etcd-3": "#2ca02c"}
    g = ["set terminal pngcairo size 1500,480 font 'sans,10'", "set output '%s'" % png,
         "set multiplot layout 1,3 title 'pbft-kv and etcd: writes of %d B values, medians of %d repetitions'"
         % (args.value_size, args.reps),
         "set logscale x 2", "set xrange [0.8:%d]" % (max(args.concurrency) * 1.25), "set grid",
         "set key top left", "set xlabel 'connections'", "set ylabel 'ops/s'", "set yrange [0:*]",
         "set title 'write throughput (min..max bars)'"]
    g.append("plot " + ", ".join(
        "'%s/%s.dat' using 1:2:3:4 with yerrorlines lw 2 lc rgb '%s' title '%s'" % (d, s, colors[s], LABELS[s])
        for s in present))
    g += ["set logscale y", "set yrange [*:*]", "set ylabel 'ms'", "set title 'write latency: p50 (solid), p99 (dashed)'"]
    g.append("plot " + ", ".join(
        "'%s/%s.dat' using 1:5 with linespoints lw 2 lc rgb '%s' title '%s p50', "
        "'%s/%s.dat' using 1:6 with linespoints lw 2 dt 2 lc rgb '%s' title '%s p99'"
        % (d, s, colors[s], LABELS[s], d, s, colors[s], LABELS[s]) for s in present))
    g += ["unset logscale x", "set xrange [*:*]", "set xlabel 'percentile'",
          "set title 'write latency percentiles at %d connections'" % sat, "set style data histograms",
          "set style histogram clustered gap 1", "set style fill solid 0.8 border -1", "set key top left autotitle columnhead"]
    g.append("plot " + ", ".join("'%s/pct.dat' using %d:xtic(1) lc rgb '%s'" % (d, i + 2, colors[s])
                                 for i, s in enumerate(present)))
    g.append("unset multiplot")
    script = os.path.join(d, "plot.gp")
    with open(script, "w") as f:
        f.write("\n".join(g) + "\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    shutil.rmtree(d, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError("gnuplot failed: %s" % r.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions of every system's sweep (default 3)")
    ap.add_argument("--duration", type=float, default=8, help="measured seconds per point (default 8)")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up seconds per point (default 2)")
    ap.add_argument("--concurrency", default="1,4,16,64,128", help="write connections per point (default 1,4,16,64,128)")
    ap.add_argument("--read-connections", type=int, default=64, help="connections of the read run (0: none)")
    ap.add_argument("--read-path", default="fast", choices=["ordered", "fast", "local"],
                    help="pbft-kv reads: fast (consistency=fast, the default), ordered, local")
    ap.add_argument("--pbft-sync", choices=["always", "batch", "off"], default=None,
                    help="pbft-kv storage.sync for both n=1 and n=4 (default: the config default, always)")
    ap.add_argument("--saturation-connections", type=int, default=64, help="the point the targets are read at")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="a subset of %s" % ",".join(SYSTEMS))
    ap.add_argument("--key-size", type=int, default=16)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--keys", type=int, default=10000, help="key space (default 10000)")
    ap.add_argument("--timeout-ms", type=int, default=10000, help="per request (default 10000)")
    ap.add_argument("--max-error-ratio", type=float, default=0.001,
                    help="a run with a larger share of failed requests fails (default 0.001 = 0.1%%)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test of about a minute: 1 repetition, 2 s points, connections 1 and 64")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--out-md", default=None,
                    help="default BENCHMARKS.md at the repository root; with --quick bench/results/quick/BENCHMARKS.md")
    ap.add_argument("--results", default=None,
                    help="folder for bench.json and bench.png (default bench/results; with --quick bench/results/quick)")
    ap.add_argument("--no-install", action="store_true", help="fail instead of installing missing packages")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.duration, args.warmup, args.concurrency = 1, 2, 0.5, "1,64"
    # A smoke test leaves the full run's BENCHMARKS.md and chart alone.
    quick_dir = os.path.join(REPO, "bench", "results", "quick")
    if args.results is None:
        args.results = quick_dir if args.quick else os.path.join(REPO, "bench", "results")
    if args.out_md is None:
        args.out_md = os.path.join(quick_dir, "BENCHMARKS.md") if args.quick else os.path.join(REPO, "BENCHMARKS.md")
    args.concurrency = sorted({int(c) for c in args.concurrency.split(",") if c.strip()})
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in args.systems:
        if s not in SYSTEMS:
            sys.exit("unknown system %r (known: %s)" % (s, ", ".join(SYSTEMS)))
    if args.saturation_connections not in args.concurrency:
        args.saturation_connections = max(c for c in args.concurrency if c <= 64) if any(
            c <= 64 for c in args.concurrency) else args.concurrency[0]
    args.loadgen = os.path.join(args.bin_dir, "pbft-loadgen")
    for b in ("pbft-loadgen", "kv-node", "kvctl"):
        if not os.access(os.path.join(args.bin_dir, b), os.X_OK):
            sys.exit("%s not found in %s (make build)" % (b, args.bin_dir))

    # Stopped from outside (Ctrl-C, kill): unwind, so that every member is
    # stopped and the temporary folders removed.
    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    ensure_packages(args)
    n_points = len(sweep_steps(args)) * args.reps * len(args.systems)
    estimate = n_points * (args.duration + args.warmup + 1.5) + args.reps * len(args.systems) * 4
    log("%d repetitions x %d systems x %d points of %g+%g s: about %s" % (
        args.reps, len(args.systems), len(sweep_steps(args)), args.warmup, args.duration, fmt_duration(estimate)))
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")), "machine": machine(),
            "loadavg_start": os.getloadavg()[0], "etcd_version": etcd_version(shutil.which("etcd") or "etcd"),
            "command": "python3 bench/run_bench.py " + " ".join(sys.argv[1:])}
    with tempfile.TemporaryDirectory(prefix="pbft-bench-") as tmp:
        args.tmp = tmp
        try:
            runs, info = run_all(args)
        except KeyboardInterrupt:
            log("interrupted: every member was stopped; nothing written")
            sys.exit(130)
        meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        meta["loadavg_end"] = os.getloadavg()[0]
        med = summarize(runs, args)
        rows = targets(med, runs, args)
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, "bench.json"), "w") as f:
            json.dump({"meta": meta, "args": {k: v for k, v in vars(args).items() if k != "tmp"},
                       "medians": [dict(system=k[0], kind=k[1], connections=k[2], **v) for k, v in sorted(med.items())],
                       "targets": rows, "runs": runs}, f, indent=1)
            f.write("\n")
        png = os.path.join(args.results, "bench.png")
        plot(med, args, png)
        write_markdown(args.out_md, med, rows, runs, info, args, meta)
    print()
    for r in rows:
        print("%-62s %-40s %-10s %s" % (r["what"], r["value"] or "-", r["target"],
                                        "n/a" if r["ok"] is None else "met" if r["ok"] else "MISSED"))
    print("\nwritten: %s, %s, %s" % (args.out_md, os.path.join(args.results, "bench.json"), png))
    failed = [r for r in runs if r.get("failed")]
    if failed:
        print("\nFAILED: %d runs had more than %g%% failed requests:" % (len(failed), 100 * args.max_error_ratio))
        for r in failed:
            print("  %s: %s" % (r["label"], r.get("failure", "")))
        sys.exit(1)


if __name__ == "__main__":
    main()
