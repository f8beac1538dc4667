#!/usr/bin/env python3
"""Chaos runner: a 4-replica pbft-kv cluster of real kv-node processes under faults.

For each seed: starts n = 4 replicas (f = 1) on durable RocksDB folders, with
every replica-to-replica connection going through a fault-injecting TCP proxy
in this process; runs concurrent clients doing random put/get/delete/cas on a
small key space through random replicas' HTTP ports, recording every
operation (invoke time, completion time, result, or unknown); and runs a
fault schedule drawn from the seed, one fault at a time (never more than f
faulty replicas):

  kill       SIGKILL the replica, restart it on its folder when the fault ends
  pause      SIGSTOP, then SIGCONT
  isolate    the proxy refuses and cuts every connection to and from it
  blackhole  the proxy swallows everything to and from it (connections stay up)
  flaky      the proxy cuts its connections at random and refuses some new ones
  cut-link   only the links between it and one other replica are cut
  clock-jump its wall clock jumps by offset_s, and back when the fault ends
             (libfaketime, Debian package faketime; left out when not installed)
  disk-error its disk fails: fsync and fdatasync return EIO (a preloaded
             library, build/lib/libpbft-disk-fault.so; left out when it is
             not built, as in sanitizer builds). Once a sync has failed the
             replica must stop, with exit code 74, within
             --disk-stop-bound-s (one that made no sync meanwhile is logged,
             not failed); when the fault ends its disk works again and it
             restarts on its folder. What was written stays in the page
             cache: this tests stopping on EIO, not losing written data

A fault's target is a replica id or "primary" (the primary when the fault
starts). After each fault heals: a write must commit within --progress-bound-s
and the healed replica must catch up. After the schedule: everything is healed,
every key is read back through every replica, the whole history (read-backs
included) is checked for linearizability, the last acknowledged write of every
key is checked against what is read back, and every replica must hold the same
values and the same stable checkpoint digest.

Prints the schedule and a summary per seed; exits 1 on any violation, naming
the seed to replay. Python standard library only.

  python3 tests/chaos/run_chaos.py --seeds 1,2 --duration 60
  python3 tests/chaos/run_chaos.py --seeds 1-20 --duration 600 --json results.json
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, asdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import cluster as e2e  # noqa: E402
from linearizability import Op, check  # noqa: E402

N = 4
F = 1
KV_NODE = e2e.KV_NODE
KVCTL = os.environ.get("KVCTL", os.path.join(os.path.dirname(KV_NODE), "kvctl"))
PROBE_KEY = "probe"
# libfaketime (Debian package faketime): replicas run under it so that their
# wall clock can be made to jump while they run.
LIBFAKETIME = next((p for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/faketime/libfaketime.so.1") if os.path.exists(p)), None)
# The failing disk (tests/chaos/disk_fault.cc), built beside kv-node.
DISK_FAULT_LIB = os.environ.get("PBFT_DISK_FAULT_LIB",
                                os.path.join(os.path.dirname(os.path.dirname(KV_NODE)), "lib", "libpbft-disk-fault.so"))
if not os.path.exists(DISK_FAULT_LIB):
    DISK_FAULT_LIB = None
# kv-node's exit code when its storage fails (EX_IOERR).
EXIT_STORAGE_FAILED = 74


def log(*args):
    print("[%s]" % time.strftime("%H:%M:%S"), *args, flush=True)


# ---------------------------------------------------------------------------
# Ports: HTTP base+i, replica (real) base+100+i, client base+200+i, proxy for link i->j
# base+300+10*i+j.

def ports_of(base):
    ports = [base + i for i in range(N)] + [base + 100 + i for i in range(N)] + [base + 200 + i for i in range(N)]
    ports += [base + 300 + 10 * i + j for i in range(N) for j in range(N) if i != j]
    return ports


def free_base():
    return e2e.free_base_port(ports_of, span=400)


# ---------------------------------------------------------------------------
# The fault-injecting proxy

class _Conn:
    def __init__(self, link, client, upstream):
        self.link = link
        self.client = client
        self.upstream = upstream
        self.blackholed = upstream is None
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.upstream):
            if s is None:
                continue
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            except OSError:
                pass
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.link.forget(self)

    def pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.blackholed or dst is None:
                    continue
                dst.sendall(data)
        except OSError:
            pass
        self.close()


class Link:
    """The connections replica src opens to replica dst, through one proxy port."""

    def __init__(self, src, dst, listen_port, target_port, rng):
        self.src, self.dst = src, dst
        self.target_port = target_port
        self.mode = "up"  # up | drop | blackhole
        self.flaky = 0.0  # probability per 0.2 s that a connection is cut (and that a new one is refused)
        self.rng = rng
        self.lock = threading.Lock()
        self.conns = set()
        self.accepted = 0
        self.refused = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def forget(self, conn):
        with self.lock:
            self.conns.discard(conn)

    def _serve(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self.lock:
                mode, flaky = self.mode, self.flaky
                refuse = mode == "drop" or (flaky > 0 and self.rng.random() < flaky)
            if refuse:
                self.refused += 1
                _Conn(self, client, None).close()
                continue
            upstream = None
            if mode != "blackhole":
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                    upstream.settimeout(None)
                except OSError:
                    _Conn(self, client, None).close()
                    continue
            self.accepted += 1
            conn = _Conn(self, client, upstream)
            with self.lock:
                self.conns.add(conn)
            threading.Thread(target=conn.pump, args=(client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=conn.pump, args=(upstream, client), daemon=True).start()

    def set(self, mode, flaky=0.0):
        with self.lock:
            old = self.mode
            self.mode, self.flaky = mode, flaky
            conns = list(self.conns)
        for c in conns:
            if mode == "drop":
                c.close()
            elif mode == "blackhole":
                c.blackholed = True
            elif c.blackholed or old != "up":
                # Bytes were swallowed mid-stream: the sender must reconnect.
                c.close()

    def tick(self):
        with self.lock:
            p = self.flaky
            conns = list(self.conns) if p > 0 else []
        for c in conns:
            if self.rng.random() < p:
                c.close()

    def stop(self):
        self.stopped = True
        self.set("drop")
        self.sock.close()


class Proxy:
    def __init__(self, base, seed):
        rng = random.Random(seed * 7919 + 1)
        self.links = {}
        for i in range(N):
            for j in range(N):
                if i != j:
                    self.links[(i, j)] = Link(i, j, base + 300 + 10 * i + j, base + 100 + j,
                                              random.Random(rng.random()))
        self.stopped = False
        threading.Thread(target=self._ticker, daemon=True).start()

    def _ticker(self):
        while not self.stopped:
            time.sleep(0.2)
            for link in list(self.links.values()):
                link.tick()

    def around(self, r, peers=None):
        """The links to and from replica r (with peers only, when given)."""
        peers = [p for p in range(N) if p != r] if peers is None else peers
        return [self.links[(r, p)] for p in peers] + [self.links[(p, r)] for p in peers]

    def heal(self):
        for link in self.links.values():
            link.set("up")

    def stop(self):
        self.stopped = True
        for link in self.links.values():
            link.stop()


# ---------------------------------------------------------------------------
# The cluster: the e2e Cluster class, on config files whose peer addresses are the proxy's

class _Folder:
    def __init__(self, name):
        self.name = name

    def cleanup(self):
        shutil.rmtree(self.name, ignore_errors=True)


class ChaosCluster(e2e.Cluster):
    def __init__(self, root=None, log_filter="info", view_change_timeout_ms=2000, fake_clock=True,
                 disk_faults=False):
        # fake_clock: run the replicas under libfaketime (needed only by the
        # clock-jump fault; a sanitizer build refuses a preloaded library).
        # disk_faults: the same for the failing disk.
        self.fake_clock = fake_clock and bool(LIBFAKETIME)
        self.disk_faults = disk_faults and bool(DISK_FAULT_LIB)
        self.base = free_base()
        self.dir = _Folder(tempfile.mkdtemp(prefix="pbft-chaos-", dir=root))  # kept unless cleaned up
        self.procs = {}
        self.logs = {}
        self.log_starts = {}
        self.log_filter = log_filter
        self.paused = set()
        cfg = os.path.join(self.dir.name, "config")
        subprocess.run([KVCTL, "config", "init", "--replicas", str(N), "--base-port", str(self.base),
                        "--out", cfg], check=True, capture_output=True, text=True)
        self.configs = {}
        for i in range(N):
            path = os.path.join(cfg, "replica-%d.toml" % i)
            with open(path) as f:
                text = f.read()
            # Peer j is reached through the proxy port of link i->j; i listens on its real port.
            counter = iter(range(N))

            def peer_port(m):
                j = next(counter)
                return "replica_port = %d" % (self.base + 100 + j if j == i else self.base + 300 + 10 * i + j)
            text = re.sub(r"^replica_port = \d+$", peer_port, text, flags=re.M)
            text = re.sub(r'^data_dir = ".*"$',
                          'data_dir = "%s"\nreplica_listen = "127.0.0.1:%d"' % (self.data_dir(i), self.base + 100 + i),
                          text, count=1, flags=re.M)
            text = re.sub(r"^view_change_timeout_ms = \d+$", "view_change_timeout_ms = %d" % view_change_timeout_ms,
                          text, flags=re.M)
            with open(path, "w") as f:
                f.write(text)
            self.configs[i] = path

    def start_replica(self, i, args=(), env=None):
        assert i not in self.procs, "replica %d is already running" % i
        full_env = dict(os.environ)
        for k in ("PBFT_DEV", "PBFT_DEV_BASE_PORT", "PBFT_DATA_DIR"):
            full_env.pop(k, None)
        full_env["PBFT_LOG"] = self.log_filter
        if self.fake_clock:
            # The wall clock follows the offset in this file (read at most once a
            # second); the monotonic clock is left alone.
            if not os.path.exists(self.clock_file(i)):
                self.set_clock_offset(i, 0)
            full_env.update({"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": self.clock_file(i),
                             "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        if self.disk_faults:
            preload = full_env.get("LD_PRELOAD")
            full_env["LD_PRELOAD"] = DISK_FAULT_LIB + (" " + preload if preload else "")
            full_env["PBFT_DISK_FAULT_FILE"] = self.disk_fault_file(i)
        full_env.update(env or {})
        log_file = open(os.path.join(self.dir.name, "replica-%d.log" % i), "ab")
        self.logs[i] = log_file.name
        self.log_starts[i] = log_file.tell()
        self.procs[i] = subprocess.Popen([KV_NODE, "--config", self.configs[i], *args], env=full_env,
                                         stdout=log_file, stderr=subprocess.STDOUT)
        log_file.close()

    def start(self, replicas=range(N), wait=True, envs=None):
        for i in replicas:
            self.start_replica(i, env=(envs or {}).get(i))
        for i in replicas:
            self.wait_healthy(i, timeout=30)
        self.wait_for(lambda: all(self.state(i)["connected_peers"] >= N - 1 for i in replicas), 30,
                      "replicas to connect to each other")
        return self

    def disk_fault_file(self, i):
        return os.path.join(self.dir.name, "disk-fault-%d" % i)

    def fail_disk(self, i, failed):
        """While failed, replica i's fsync and fdatasync return EIO."""
        for path in (self.disk_fault_file(i) + ".hit", self.disk_fault_file(i)):
            if os.path.exists(path):
                os.unlink(path)
        if failed:
            open(self.disk_fault_file(i), "w").close()

    def disk_fault_met(self, i):
        """Whether replica i has had a sync fail since its disk failed."""
        return os.path.exists(self.disk_fault_file(i) + ".hit")

    def wait_exit(self, i, timeout):
        """The exit code of replica i once it stops by itself, or None if it still runs."""
        try:
            code = self.procs[i].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        del self.procs[i]
        return code

    def clock_file(self, i):
        return os.path.join(self.dir.name, "clock-%d" % i)

    def set_clock_offset(self, i, seconds):
        tmp = self.clock_file(i) + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%+ds\n" % seconds)
        os.replace(tmp, self.clock_file(i))

    def pause(self, i):
        self.procs[i].send_signal(signal.SIGSTOP)
        self.paused.add(i)

    def resume(self, i):
        if i in self.paused:
            self.procs[i].send_signal(signal.SIGCONT)
            self.paused.discard(i)

    def close(self):
        for i in list(self.paused):
            self.resume(i)
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs.clear()

    def slots(self, i):
        return self.request(i, "GET", "/api/v1/pbft/slots", timeout=5).json()


# ---------------------------------------------------------------------------
# Faults. A kind is (apply, heal).

@dataclass
class Fault:
    kind: str
    target: object  # replica id, or "primary"
    start_s: float
    duration_s: float
    params: dict = field(default_factory=dict)
    resolved: int = -1  # the replica it hit
    applied_at: float = 0.0
    healed_at: float = 0.0
    recovery_s: float = -1.0  # heal to the first committed write
    caught_up_s: float = -1.0  # heal to the healed replica caught up

    def describe(self):
        extra = "".join(" %s=%s" % kv for kv in sorted(self.params.items()))
        return "t=%5.1fs %-9s replica %-7s for %4.1fs%s" % (self.start_s, self.kind, self.target,
                                                             self.duration_s, extra)


def _apply_kill(run, f):
    run.cluster.kill(f.resolved, signal.SIGKILL)


def _heal_kill(run, f):
    run.cluster.start_replica(f.resolved)


def _apply_pause(run, f):
    run.cluster.pause(f.resolved)


def _heal_pause(run, f):
    run.cluster.resume(f.resolved)


def _apply_isolate(run, f):
    for link in run.proxy.around(f.resolved):
        link.set("drop")


def _apply_blackhole(run, f):
    for link in run.proxy.around(f.resolved):
        link.set("blackhole")


def _apply_flaky(run, f):
    for link in run.proxy.around(f.resolved):
        link.set("up", flaky=f.params["p"])


def _apply_cut_link(run, f):
    for link in run.proxy.around(f.resolved, [f.params["peer"] if f.params["peer"] != f.resolved
                                              else (f.resolved + 1) % N]):
        link.set("drop")


def _apply_clock_jump(run, f):
    run.cluster.set_clock_offset(f.resolved, f.params["offset_s"])


def _heal_clock_jump(run, f):
    run.cluster.set_clock_offset(f.resolved, 0)  # and back: a second jump


def _apply_disk_error(run, f):
    run.cluster.fail_disk(f.resolved, True)
    code = run.cluster.wait_exit(f.resolved, run.args.disk_stop_bound_s)
    f.params["exit_code"] = code
    if code is None and not run.cluster.disk_fault_met(f.resolved):
        # It wrote nothing meanwhile (behind, or changing views): not exercised.
        f.params["exit_code"] = "no sync"
        log("replica %d made no sync while its disk failed" % f.resolved)
    elif code is None:
        run.violation("replica %d kept running %.0fs after a sync failed (fsync returns EIO)"
                      % (f.resolved, run.args.disk_stop_bound_s))
    elif code != EXIT_STORAGE_FAILED:
        run.violation("replica %d exited with %s after its disk failed, not %d (storage failure)"
                      % (f.resolved, code, EXIT_STORAGE_FAILED))
    else:
        run.result.disk_stops += 1


def _heal_disk_error(run, f):
    run.cluster.fail_disk(f.resolved, False)
    if f.resolved in run.cluster.procs:  # it did not stop (a violation already): start it afresh
        run.cluster.kill(f.resolved, signal.SIGKILL)
    run.cluster.start_replica(f.resolved)


# The test-only Byzantine modes (kv-node's testing.misbehave) a `byzantine`
# fault draws from: all but wrong-results, whose gateway lies to the HTTP
# clients it serves (the plain route trusts its gateway; docs/API.md), which
# the negative control f1-byzantine covers.
BYZANTINE_MODES = ["silent", "corrupt-signatures", "equivocate", "wrong-checkpoint-digest", "replay",
                   "slow-primary", "flood"]


def byzantine_env(mode):
    return {"PBFT_MISBEHAVE": mode, "PBFT_ALLOW_MISBEHAVIOUR": "1"}


def _apply_byzantine(run, f):
    # Restarted on its own data folder in the mode; then restarted again as
    # a correct replica when the fault heals.
    run.cluster.kill(f.resolved, signal.SIGKILL)
    run.cluster.start_replica(f.resolved, env=byzantine_env(f.params["mode"]))


def _heal_byzantine(run, f):
    run.cluster.kill(f.resolved, signal.SIGKILL)
    run.cluster.start_replica(f.resolved)


def _heal_links(run, f):
    for link in run.proxy.around(f.resolved):
        link.set("up")


FAULT_KINDS = {
    "kill": (_apply_kill, _heal_kill),
    "pause": (_apply_pause, _heal_pause),
    "isolate": (_apply_isolate, _heal_links),
    "blackhole": (_apply_blackhole, _heal_links),
    "flaky": (_apply_flaky, _heal_links),
    "cut-link": (_apply_cut_link, _heal_links),
    "byzantine": (_apply_byzantine, _heal_byzantine),
}
if LIBFAKETIME:
    FAULT_KINDS["clock-jump"] = (_apply_clock_jump, _heal_clock_jump)
if DISK_FAULT_LIB:
    FAULT_KINDS["disk-error"] = (_apply_disk_error, _heal_disk_error)


def make_schedule(seed, duration_s, kinds=None):
    """The faults of one seed: one at a time, so never more than f = 1 faulty replica."""
    rng = random.Random(seed)
    kinds = list(FAULT_KINDS) if kinds is None else kinds
    faults = []
    t = rng.uniform(2.0, 4.0)
    while kinds and t < duration_s - 6.0:
        kind = rng.choice(kinds)
        target = "primary" if rng.random() < 0.35 else rng.randrange(N)
        length = min(rng.uniform(2.0, 8.0), duration_s - 3.0 - t)
        params = {}
        if kind == "flaky":
            params["p"] = round(rng.uniform(0.2, 0.6), 2)
        if kind == "cut-link":
            params["peer"] = rng.randrange(N)
        if kind == "clock-jump":
            params["offset_s"] = rng.choice([-1, 1]) * rng.choice([30, 600, 3600, 86400])
        if kind == "byzantine":
            params["mode"] = rng.choice(BYZANTINE_MODES)
        faults.append(Fault(kind, target, round(t, 1), round(length, 1), params))
        t += length + rng.uniform(3.0, 8.0)
    return faults


# ---------------------------------------------------------------------------
# Clients

class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.t0 = time.monotonic()

    def now(self):
        return time.monotonic() - self.t0

    def add(self, op):
        with self.lock:
            op.id = len(self.ops)
            self.ops.append(op)


class Failed(Exception):
    """The request certainly did not take effect (refused before it was sent, or a 4xx)."""


def http_call(port, method, path, body=None, headers=None, timeout=15.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            raise Failed("connect: %s" % e)
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def run_op(cluster, kind, key, value, expected, replica, rng, deadline_s=12.0, attempts_max=3, timeout_s=5.0):
    """Runs one operation with the same request-id on every attempt (through
    random replicas). Returns (outcome, result, note): outcome is "ok",
    "failed" (certainly no effect) or "unknown"."""
    rid = str(uuid.uuid4())
    headers = {"request-id": rid}
    started = time.monotonic()
    sent = False  # some attempt may have reached a replica
    last = ""
    for attempt in range(attempts_max):
        port = cluster.http_port(replica)
        try:
            q = "/api/v1/kv?key=" + key
            if kind == "put":
                status, body = http_call(port, "POST", "/api/v1/kv", {"key": key, "value": value}, headers, timeout_s)
            elif kind == "get":
                status, body = http_call(port, "GET", q, None, headers, timeout_s)
            elif kind == "delete":
                status, body = http_call(port, "DELETE", q, None, headers, timeout_s)
            else:
                status, body = http_call(port, "POST", "/api/v1/kv/cas",
                                         {"key": key, "value": value, "expected": expected}, headers, timeout_s)
            if status == 200:
                j = json.loads(body)
                note = "replica %d rid %s seq %s" % (replica, rid[:8], j.get("operation_sequence"))
                if kind == "put":
                    return "ok", None, note
                if kind == "get":
                    return "ok", j["value"], note
                if kind == "delete":
                    return "ok", j["deleted"], note
                return "ok", (j["succeeded"], j["value"]), note
            sent = True
            last = "HTTP %d %s" % (status, body[:120])
            if 400 <= status < 500 and status != 408:
                raise AssertionError("request refused: %s %s -> %s" % (kind, key, last))
        except Failed as e:
            last = str(e)
        except (OSError, http.client.HTTPException, ValueError) as e:
            sent = True
            last = repr(e)
        if time.monotonic() - started > deadline_s:
            break
        time.sleep(0.2 + rng.random() * 0.5)
        replica = rng.randrange(N)
    return ("unknown" if sent else "failed"), None, "rid %s: %s" % (rid[:8], last)


class Client(threading.Thread):
    def __init__(self, run, cid, seed):
        super().__init__(daemon=True)
        self.run_ = run
        self.cid = cid
        self.rng = random.Random(seed * 1000 + cid)
        self.stop = threading.Event()
        self.n = 0
        self.seen = {}

    def one(self, kind, key, value=None, expected=None):
        run = self.run_
        op = Op(kind, key, run.rec.now(), None, value=value, expected=expected, process=self.cid)
        outcome, result, note = run_op(run.cluster, kind, key, value, expected, self.rng.randrange(N), self.rng)
        if outcome == "failed":
            return None
        if outcome == "ok":
            op.complete = run.rec.now()
            op.result = result
        op.note = note
        run.rec.add(op)
        return op

    def run(self):
        try:
            self.loop()
        except Exception as e:  # a refused request (4xx) or a bug: the run must not pass silently
            self.run_.violation("client %s stopped: %r" % (self.cid, e))

    def loop(self):
        keys = self.run_.keys
        while not self.stop.is_set():
            self.n += 1
            key = self.rng.choice(keys)
            x = self.rng.random()
            value = "c%d-%d" % (self.cid, self.n)
            if x < 0.45:
                op = self.one("put", key, value)
            elif x < 0.85:
                op = self.one("get", key)
            elif x < 0.93:
                op = self.one("delete", key)
            else:
                op = self.one("cas", key, value, self.seen.get(key))
            if op is not None and op.known():
                if op.kind == "get":
                    self.seen[key] = op.result
                elif op.kind == "put":
                    self.seen[key] = op.value
            time.sleep(self.rng.random() * 0.05)


class StaleClient(Client):
    """Negative control: a broken client that reports a stale value. It writes A,
    then B (both acknowledged), reads the key and reports A: a read that no
    linearizable store could have returned. The checkers must flag it."""

    def loop(self):
        while not self.stop.is_set():
            self.n += 1
            key = self.rng.choice(self.run_.keys)
            a = self.one("put", key, "stale-a-%d-%d" % (self.cid, self.n))
            b = self.one("put", key, "stale-b-%d-%d" % (self.cid, self.n))
            if a is not None and a.known() and b is not None and b.known():
                g = self.one("get", key)
                if g is not None and g.known():
                    g.result = a.value
                    g.note += " (control: reported stale)"
                    self.run_.control_injected += 1
            self.stop.wait(3.0)


# ---------------------------------------------------------------------------
# One seed

@dataclass
class SeedResult:
    seed: int
    duration_s: float
    ops: int = 0
    ops_ok: int = 0
    ops_unknown: int = 0
    acked_writes: int = 0
    faults: int = 0
    fault_kinds: dict = field(default_factory=dict)
    lost_writes: int = 0
    linearizable: object = None
    replicas_agree: bool = False
    checkpoint_seq: int = 0
    recovery_s_max: float = 0.0
    violations: list = field(default_factory=list)
    findings: list = field(default_factory=list)  # replicas that did not rejoin (see Run.stuck)
    log_dir: str = ""
    elapsed_s: float = 0.0
    control_injected: int = 0  # negative control: broken answers put in the history
    disk_stops: int = 0  # disk-error faults after which the replica stopped as it must


class Run:
    def __init__(self, seed, duration_s, args):
        self.seed = seed
        self.duration_s = duration_s
        self.args = args
        self.rng = random.Random(seed)
        self.keys = ["k%d" % i for i in range(args.keys)]
        self.rec = Recorder()
        self.cluster = None
        self.proxy = None
        self.result = SeedResult(seed, duration_s)
        self.control_injected = 0

    def stuck(self, text, replicas):
        """A healed replica that does not rejoin: the cluster still makes progress but
        tolerates no further fault. A violation with --strict-rejoin, else a finding."""
        for i in replicas:
            if i in self.cluster.logs:
                tail = [line for line in self.cluster.run_log(i).splitlines() if " info " not in line][-3:]
                text += "\n  replica %d's last warnings:\n    %s" % (i, "\n    ".join(tail) or "(none)")
        if self.args.strict_rejoin:
            self.violation(text)
        else:
            log("FINDING (seed %d): %s" % (self.seed, text))
            self.result.findings.append(text)

    def brief_states(self):
        out = {}
        for i, x in self.states().items():
            if x is None:
                out[i] = None
            else:
                rs = x["replica_state"]
                out[i] = "%s view %s applied %s stable %s" % ("Leader" if isinstance(rs, dict) else rs, x["view"],
                                                              x["last_applied"], x["last_stable_checkpoint_sequence"])
        return out

    def violation(self, text):
        log("VIOLATION (seed %d): %s" % (self.seed, text))
        self.result.violations.append(text)

    # -- cluster state
    def primary(self, exclude=()):
        for i in self.rng.sample(range(N), N):
            if i in exclude or not self.cluster.running(i) or i in self.cluster.paused:
                continue
            try:
                return self.cluster.state(i)["primary"]
            except (OSError, ValueError, KeyError, http.client.HTTPException):
                continue
        return 0

    def probe(self, avoid, timeout_s):
        """A write through a replica other than `avoid`, retried (same id) until it commits.
        Recorded in the history. Returns the seconds it took, or None."""
        start = time.monotonic()
        value = "probe-%s" % uuid.uuid4().hex[:8]
        op = Op("put", PROBE_KEY, self.rec.now(), None, value=value, process="probe")
        rid = str(uuid.uuid4())
        while time.monotonic() - start < timeout_s:
            i = self.rng.choice([r for r in range(N) if r != avoid])
            try:
                status, body = http_call(self.cluster.http_port(i), "POST", "/api/v1/kv",
                                         {"key": PROBE_KEY, "value": value}, {"request-id": rid}, timeout=10)
                if status == 200:
                    op.complete = self.rec.now()
                    self.rec.add(op)
                    return time.monotonic() - start
            except Failed:
                pass
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.3)
        self.rec.add(op)  # unknown outcome
        return None

    def states(self):
        out = {}
        for i in range(N):
            try:
                out[i] = self.cluster.state(i)
            except (OSError, ValueError, http.client.HTTPException):
                out[i] = None
        return out

    def wait_caught_up(self, r, timeout_s):
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            s = self.states()
            if s.get(r) and all(s.values()):
                top = max(x["last_applied"] for x in s.values())
                if s[r]["connected_peers"] >= N - 1 and s[r]["last_applied"] >= top - 2 \
                        and s[r]["replica_state"] != "ViewChange":
                    return time.monotonic() - start
            time.sleep(0.3)
        return None

    # -- the schedule
    def run_schedule(self, faults, stop):
        t0 = time.monotonic()
        for n, f in enumerate(faults):
            delay = f.start_s - (time.monotonic() - t0)
            if delay > 0 and stop.wait(delay):
                return
            if stop.is_set():
                return
            f.resolved = self.primary() if f.target == "primary" else f.target
            apply, heal = FAULT_KINDS[f.kind]
            f.applied_at = time.monotonic() - t0
            log("fault %d: %s -> replica %d" % (n, f.describe(), f.resolved))
            apply(self, f)
            stop.wait(f.duration_s)
            heal(self, f)
            f.healed_at = time.monotonic() - t0
            rec = self.probe(f.resolved, self.args.progress_bound_s)
            if rec is None:
                self.violation("no write committed within %.0fs after fault %d (%s) healed"
                               % (self.args.progress_bound_s, n, f.describe()))
            else:
                f.recovery_s = rec
            caught = self.wait_caught_up(f.resolved, self.args.rejoin_bound_s)
            if caught is None:
                self.stuck("replica %d did not rejoin within %.0fs after fault %d healed: %s"
                           % (f.resolved, self.args.rejoin_bound_s, n, self.brief_states()), [f.resolved])
            else:
                f.caught_up_s = caught
            log("fault %d healed: first write after %.1fs, replica %d caught up after %.1fs"
                % (n, f.recovery_s, f.resolved, f.caught_up_s))
            self.result.faults += 1
            self.result.fault_kinds[f.kind] = self.result.fault_kinds.get(f.kind, 0) + 1

    # -- final checks
    def read_back(self):
        """Every key through every replica, after the clients stopped. Returns {key: value}."""
        final = {}
        for key in self.keys + [PROBE_KEY]:
            for i in range(N):
                op = Op("get", key, self.rec.now(), None, process="read-back")
                outcome, result, note = run_op(self.cluster, "get", key, None, None, i, self.rng,
                                               deadline_s=60, attempts_max=20)
                if outcome == "ok":
                    op.complete = self.rec.now()
                    op.result = result
                    op.note = note
                    self.rec.add(op)
                    final.setdefault(key, result)
                else:
                    self.violation("read-back of %s through replica %d never answered (%s)" % (key, i, note))
        return final

    def lost_writes(self, final):
        """Keys whose value read back is not what the acknowledged writes allow:
        the last acknowledged writes (those no acknowledged write followed) and
        any write of unknown outcome are the only values the key may hold."""
        lost = 0
        for key in self.keys + [PROBE_KEY]:
            writes = [op for op in self.rec.ops if op.key == key and op.kind != "get"
                      and op.process != "read-back"]
            acked = [op for op in writes if op.known() and not (op.kind == "cas" and not op.result[0])]
            allowed = set()
            for w in acked:
                if not any(o.invoke > w.complete for o in acked):
                    allowed.add(w.value if w.kind in ("put", "cas") else None)
            for w in writes:
                if not w.known():
                    allowed.add(w.value if w.kind in ("put", "cas") else None)
            if not acked:
                allowed.add(None)
            if key in final and final[key] not in allowed:
                lost += 1
                self.violation("key %s reads back %r; the last acknowledged writes allow only %r"
                               % (key, final[key], sorted(allowed, key=str)))
        return lost

    def check_agreement(self):
        """Every replica has executed the same sequence numbers, holds the same values
        and the same stable checkpoint digest."""
        # Enough writes for a new checkpoint everywhere (one every 10 sequence numbers).
        for _ in range(11):
            if self.probe(-1, self.args.progress_bound_s) is None:
                self.violation("no progress during the final checks")
                return False
        deadline = time.monotonic() + self.args.progress_bound_s + self.args.rejoin_bound_s
        # Every replica must reach the same stable checkpoint (the last one the
        # writes above made); ideally the same last executed sequence number too.
        seen, s = None, {}
        while time.monotonic() < deadline:
            s = self.states()
            if all(s.values()):
                applied = {x["last_applied"] for x in s.values()}
                stable = {x["last_stable_checkpoint_sequence"] for x in s.values()}
                seen = {i: (x["last_applied"], x["last_stable_checkpoint_sequence"]) for i, x in s.items()}
                if len(stable) == 1 and None not in stable and (len(applied) == 1 or
                                                                 time.monotonic() > deadline - self.args.rejoin_bound_s):
                    break
            time.sleep(0.5)
        else:
            self.violation("replicas did not converge on one stable checkpoint: %s" % seen)
            return False
        top = max(x["last_applied"] for x in s.values())
        behind = [i for i, x in s.items() if x["last_applied"] != top]
        if behind:
            self.stuck("after the final writes, replicas %s stay behind the others: %s" % (behind, self.brief_states()),
                       behind)
        ok = True
        for key in self.keys + [PROBE_KEY]:
            values = {i: self.cluster.get_local(i, key).json()["value"] for i in range(N) if i not in behind}
            if len(set(values.values())) != 1:
                ok = False
                self.violation("replicas hold different values for %s: %s" % (key, values))
        digests = {}
        for i in range(N):
            cps = [c for c in self.cluster.slots(i)["checkpoints"] if c["stable"]]
            digests[i] = (cps[0]["seq"], cps[0]["digest"]) if cps else None
        if len(set(digests.values())) != 1:
            ok = False
            self.violation("stable checkpoints differ: %s" % digests)
        else:
            self.result.checkpoint_seq = digests[0][0]
            log("replicas agree: stable checkpoint %s digest %s, last applied %s"
                % (digests[0][0], digests[0][1], seen[0][0]))
        return ok

    def go(self):
        args = self.args
        started = time.monotonic()
        faults = make_schedule(self.seed, self.duration_s, args.kinds)
        log("seed %d: %d s, %d clients, keys %s; schedule:" % (self.seed, self.duration_s, args.clients,
                                                               ",".join(self.keys)))
        for f in faults:
            log("  " + f.describe())
        self.cluster = ChaosCluster(root=args.work_dir,
                                    fake_clock=any(f.kind == "clock-jump" for f in faults),
                                    disk_faults=any(f.kind == "disk-error" for f in faults))
        self.result.log_dir = self.cluster.dir.name
        try:
            self.proxy = Proxy(self.cluster.base, self.seed)
            envs = None
            if args.control == "f1-byzantine":
                # Negative control: f+1 replicas lie to clients (one more than
                # the protocol tolerates); their matching forged answers pass
                # the gateways' f+1 rule, and the checkers must notice.
                envs = {i: byzantine_env("wrong-results") for i in range(F + 1)}
            self.cluster.start(envs=envs)
            clients = [Client(self, c, self.seed) for c in range(args.clients)]
            if args.control == "stale-read":
                clients.append(StaleClient(self, args.clients, self.seed))
            for c in clients:
                c.start()
            stop = threading.Event()
            sched = threading.Thread(target=self.run_schedule, args=(faults, stop), daemon=True)
            load_started = time.monotonic()
            sched.start()
            sched.join(self.duration_s)
            stop.wait(max(0.0, self.duration_s - (time.monotonic() - load_started)))
            stop.set()
            sched.join()  # finishes healing the fault in hand
            for c in clients:
                c.stop.set()
            for c in clients:
                c.join(60)
            # Everything healed.
            self.proxy.heal()
            for i in list(self.cluster.paused):
                self.cluster.resume(i)
            for i in range(N):
                if not self.cluster.running(i):
                    if i in self.cluster.procs:
                        self.violation("replica %d exited with %s; log tail:\n%s"
                                       % (i, self.cluster.exit_code(i), self.cluster.run_log(i)[-2000:]))
                        self.cluster.procs.pop(i)
                    self.cluster.start_replica(i)
            if self.probe(-1, args.progress_bound_s) is None:
                self.violation("no write committed within %.0fs after the schedule ended" % args.progress_bound_s)
            if args.control == "unrecorded-write":
                # Negative control: a write the history does not know of.
                key = self.keys[0]
                self.cluster.put_with_retry(0, key, "unrecorded-%d" % self.seed)
                self.control_injected += 1
            final = self.read_back()
            self.result.lost_writes = self.lost_writes(final)
            self.result.replicas_agree = self.check_agreement()
            ops = self.rec.ops
            self.result.ops = len(ops)
            self.result.ops_ok = sum(op.known() for op in ops)
            self.result.ops_unknown = len(ops) - self.result.ops_ok
            self.result.acked_writes = sum(op.known() and op.kind != "get" for op in ops)
            t = time.monotonic()
            lin = check(ops, steps_max=args.steps_max)
            self.result.linearizable = lin.ok
            log("linearizability: %s (%d operations, %d keys, %.1fs)"
                % ({True: "yes", False: "NO", None: "inconclusive"}[lin.ok], len(ops), len(lin.keys),
                   time.monotonic() - t))
            if lin.ok is False:
                self.violation("history is not linearizable:\n" + lin.report())
            elif lin.ok is None:
                self.violation("linearizability check inconclusive (search budget --steps-max spent):\n"
                               + lin.report())
            recs = [f.recovery_s for f in faults if f.recovery_s >= 0]
            self.result.recovery_s_max = round(max(recs), 2) if recs else 0.0
            if args.history:
                with open(os.path.join(self.cluster.dir.name, "history.json"), "w") as fh:
                    json.dump([asdict(op) for op in ops], fh, default=str)
        finally:
            self.cluster.close()
            if self.proxy:
                self.proxy.stop()
            self.result.elapsed_s = round(time.monotonic() - started, 1)
            if not self.result.violations and not args.keep:
                self.cluster.dir.cleanup()
        return self.result


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            seeds.extend(range(int(a), int(b) + 1))
        elif part:
            seeds.append(int(part))
    return seeds


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2", help="e.g. 1,2,5 or 1-20")
    ap.add_argument("--duration", type=float, default=60, help="seconds of faults and load per seed")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--keys", type=int, default=5)
    ap.add_argument("--kinds", type=lambda s: s.split(","), default=None,
                    help="fault kinds to draw from (default: all of %s)" % ",".join(FAULT_KINDS))
    ap.add_argument("--progress-bound-s", type=float, default=60,
                    help="a write must commit this long after a fault heals")
    ap.add_argument("--steps-max", type=int, default=20_000_000, help="linearizability search budget per key")
    ap.add_argument("--rejoin-bound-s", type=float, default=20,
                    help="a healed replica should be back in the others' view and caught up this long after")
    ap.add_argument("--disk-stop-bound-s", type=float, default=15,
                    help="a replica whose disk failed must stop within this (default 15)")
    ap.add_argument("--strict-rejoin", action="store_true",
                    help="a healed replica that does not rejoin the others is a violation (default: a finding)")
    ap.add_argument("--control", choices=["stale-read", "unrecorded-write", "f1-byzantine"],
                    help="negative control: break the history on purpose (the run must fail)")
    ap.add_argument("--work-dir", default=None, help="where the clusters' folders go")
    ap.add_argument("--keep", action="store_true", help="keep every seed's folder (kept anyway on a violation)")
    ap.add_argument("--history", action="store_true", help="write each seed's history.json to its folder")
    ap.add_argument("--json", help="write the per-seed summaries here")
    ap.add_argument("--report", help="rewrite the chaos section of this Markdown file (docs/RELIABILITY.md) "
                                     "with the figures of this run")
    args = ap.parse_args(argv)
    if args.kinds:
        for k in args.kinds:
            if k not in FAULT_KINDS:
                ap.error("unknown fault kind %r (known: %s)" % (k, ", ".join(FAULT_KINDS)))
    if not os.path.exists(KV_NODE):
        ap.error("kv-node not found at %s (make build, or set KV_NODE)" % KV_NODE)
    return args


def main(argv=None):
    args = parse_args(argv)

    results = run_all(args)
    return 1 if any(r.violations for r in results) else 0


def run_all(args):
    """Runs every seed of args; returns their SeedResults (and prints the summaries)."""
    results = []
    for seed in parse_seeds(args.seeds):
        run = Run(seed, args.duration, args)
        r = run.go()
        r.control_injected = run.control_injected
        results.append(r)
        log("seed %d: %s — %d ops (%d ok, %d unknown, %d acknowledged writes), %d faults %s, "
            "lost acknowledged writes %d, linearizable %s, replicas agree %s, max recovery %.1fs, "
            "replicas not rejoining %d, %.0fs"
            % (seed, "PASS" if not r.violations else "FAIL", r.ops, r.ops_ok, r.ops_unknown, r.acked_writes,
               r.faults, r.fault_kinds, r.lost_writes, r.linearizable, r.replicas_agree, r.recovery_s_max,
               len(r.findings), r.elapsed_s))
        if r.violations:
            log("seed %d FAILED; logs and data in %s; replay with:\n  python3 %s --seeds %d --duration %g%s"
                % (seed, r.log_dir, os.path.relpath(__file__), seed, args.duration,
                   (" --control " + args.control) if args.control else ""))
    failed = [r.seed for r in results if r.violations]
    lin = sum(r.linearizable is True for r in results)
    log("TOTAL: %d seeds, %d ops, %d faults, %d lost acknowledged writes, linearizable %d/%d, "
        "replicas not rejoining %d, failed seeds %s"
        % (len(results), sum(r.ops for r in results), sum(r.faults for r in results),
           sum(r.lost_writes for r in results), lin, len(results), sum(len(r.findings) for r in results),
           failed or "none"))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"duration_s": args.duration, "clients": args.clients, "keys": args.keys,
                       "control": args.control, "seeds": [asdict(r) for r in results]}, fh, indent=1)
    if args.report:
        write_report(args.report, results, args)
    return results


REPORT_BEGIN = "<!-- chaos figures: begin (written by tests/chaos/run_chaos.py --report) -->"
REPORT_END = "<!-- chaos figures: end -->"


def write_report(path, results, args):
    ops = sum(r.ops for r in results)
    ok = sum(r.ops_ok for r in results)
    acked = sum(r.acked_writes for r in results)
    faults = sum(r.faults for r in results)
    kinds = {}
    for r in results:
        for k, v in r.fault_kinds.items():
            kinds[k] = kinds.get(k, 0) + v
    lost = sum(r.lost_writes for r in results)
    lin = sum(r.linearizable is True for r in results)
    agree = sum(r.replicas_agree for r in results)
    stuck = [r.seed for r in results if r.findings]
    failed = [r.seed for r in results if r.violations]
    rec = max([r.recovery_s_max for r in results] or [0])
    lines = [REPORT_BEGIN, "",
             "Run on %s: %d seeds (%s) of %g s each, %d clients, %d keys, %d replicas (f = %d)." % (
                 time.strftime("%Y-%m-%d"), len(results), args.seeds, args.duration, args.clients, args.keys, N, F),
             "",
             "| figure | value |", "| --- | --- |",
             "| operations recorded (known outcome / unknown) | %d (%d / %d) |" % (ops, ok, ops - ok),
             "| acknowledged writes | %d |" % acked,
             "| faults injected | %d (%s) |" % (faults, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))),
             "| disk failures after which the replica stopped (exit 74) | %d/%d |" % (
                 sum(r.disk_stops for r in results), kinds.get("disk-error", 0)),
             "| **acknowledged writes lost** | **%d** |" % lost,
             "| **histories linearizable** | **%d/%d** |" % (lin, len(results)),
             "| runs where all replicas agree (values, checkpoint digest) | %d/%d |" % (agree, len(results)),
             "| longest wait for the first write after a fault healed | %.1f s |" % rec,
             "| seeds where a healed replica did not rejoin (finding) | %s |" % (
                 ", ".join(map(str, stuck)) or "none"),
             "| seeds with a violation | %s |" % (", ".join(map(str, failed)) or "none"),
             "",
             "Regenerate with:", "", "```sh",
             "make chaos-report SEEDS=%s DURATION=%g" % (args.seeds, args.duration), "```", "", REPORT_END]
    block = "\n".join(lines)
    text = open(path).read() if os.path.exists(path) else ""
    if REPORT_BEGIN in text and REPORT_END in text:
        head, rest = text.split(REPORT_BEGIN, 1)
        _, tail = rest.split(REPORT_END, 1)
        text = head + block + tail
    else:
        text = text + ("\n" if text else "") + block + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    log("wrote the chaos figures to %s" % path)


if __name__ == "__main__":
    sys.exit(main())
