"""A local pbft-kv cluster of real kv-node processes, for end-to-end tests.

Starts the built-in dev cluster (PBFT_DEV=<i>) on a free port range with its
own data folder, and offers small HTTP helpers. Python standard library only.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

KV_NODE = os.environ.get("KV_NODE", os.path.join(os.path.dirname(__file__), "../../build/bin/kv-node"))
DEV_REPLICAS = 5


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _ephemeral_port_low():
    """The lowest port the kernel hands out to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def dev_ports(base):
    """The dev cluster's ports: HTTP base+i, replica base+100+i, binary client protocol base+200+i."""
    return [base + off + i for off in (0, 100, 200) for i in range(DEV_REPLICAS)]


def free_base_port(ports_of=dev_ports, span=300):
    """A base port whose ports (ports_of(base), all below base+span) are free.

    Below the ephemeral range: while a replica is down its peers keep dialling it, and
    an outgoing connection's local port must never take the port it restarts on."""
    rng = random.Random()
    top = min(_ephemeral_port_low(), 60000) - span
    for _ in range(500):
        base = rng.randrange(11000, max(top, 11010), 10)
        if all(_port_free(p) for p in ports_of(base)):
            return base
    raise RuntimeError("no free port range found")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Cluster:
    def __init__(self, log_filter="info", root=None, replica_env=None):
        """root: the folder to make the cluster's temp folder in (default: the system's).
        replica_env: {replica: {VAR: value}}, extra environment of single replicas."""
        self.base = free_base_port()
        self.dir = tempfile.TemporaryDirectory(prefix="pbft-e2e-", dir=root)
        self.procs = {}
        self.logs = {}
        self.log_starts = {}  # replica -> offset in its log file where its latest run begins
        self.log_filter = log_filter
        self.replica_env = replica_env or {}

    # ---------------------------------------------------------------- processes
    def start(self, replicas=range(DEV_REPLICAS), wait=True):
        for i in replicas:
            self.start_replica(i)
        if wait:
            for i in replicas:
                self.wait_healthy(i)
            # Each started replica connected to all the others it started with (a quorum
            # is 4 of 5: a write fails with 503 until enough links are up).
            peers = len(list(replicas)) - 1
            self.wait_for(lambda: all(self.state(i)["connected_peers"] >= peers for i in replicas), 15,
                          "replicas to connect to each other")
        return self

    def data_dir(self, i):
        return os.path.join(self.dir.name, "replica-%d" % i)

    def start_replica(self, i, args=(), env=None):
        """Starts replica i on its data folder (kept from an earlier run unless wiped).

        args: extra kv-node arguments (e.g. ["--in-memory"]); env: extra environment."""
        assert i not in self.procs, "replica %d is already running" % i
        full_env = dict(os.environ)
        full_env.update({
            "PBFT_DEV": str(i),
            "PBFT_DEV_BASE_PORT": str(self.base),
            "PBFT_DATA_DIR": self.data_dir(i),
            "PBFT_LOG": self.log_filter,
        })
        full_env.update(self.replica_env.get(i, {}))
        full_env.update(env or {})
        log = open(os.path.join(self.dir.name, "replica-%d.log" % i), "ab")
        self.logs[i] = log.name
        self.log_starts[i] = log.tell()
        self.procs[i] = subprocess.Popen([KV_NODE, *args], env=full_env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs.pop(i)
        p.send_signal(sig)
        return p.wait(timeout=10)

    def kill_all(self, sig=signal.SIGKILL):
        """Sends sig to every running replica back to back (microseconds apart), then
        reaps them. Returns {replica: exit status}."""
        procs = list(self.procs.items())
        self.procs.clear()
        for _, p in procs:
            p.send_signal(sig)
        return {i: p.wait(timeout=10) for i, p in procs}

    def wipe(self, i):
        """Deletes replica i's data folder (the replica must be stopped)."""
        assert i not in self.procs, "replica %d is running; stop it before wiping its folder" % i
        shutil.rmtree(self.data_dir(i), ignore_errors=True)

    def running(self, i):
        return i in self.procs and self.procs[i].poll() is None

    def exit_code(self, i):
        """None while replica i runs, else its exit status (it stays in procs)."""
        return self.procs[i].poll()

    def stop(self):
        """SIGTERM to every replica; waits up to 5 s for them, then SIGKILLs the rest.
        Returns {replica: exit status}."""
        procs = list(self.procs.items())
        self.procs.clear()
        for _, p in procs:
            p.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        codes = {}
        for i, p in procs:
            try:
                codes[i] = p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                codes[i] = p.wait()
        return codes

    def close(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs.clear()
        self.dir.cleanup()

    def log_text(self, i):
        """Replica i's whole log, every run of it."""
        with open(self.logs[i], "rb") as f:
            return f.read().decode("utf-8", "replace")

    def run_log(self, i):
        """Replica i's log since its latest start."""
        with open(self.logs[i], "rb") as f:
            f.seek(self.log_starts.get(i, 0))
            return f.read().decode("utf-8", "replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- HTTP
    def http_port(self, i):
        return self.base + i

    def replica_port(self, i):
        return self.base + 100 + i

    def client_port(self, i):
        return self.base + 200 + i

    def request(self, i, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port(i), timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def send_raw(self, i, data):
        """Sends bytes to replica i's replica port and waits until it hangs up."""
        with socket.create_connection(("127.0.0.1", self.replica_port(i))) as s:
            s.sendall(data)
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass

    def put(self, i, key, value, request_id=None, timeout=30):
        headers = {"request-id": request_id} if request_id else None
        return self.request(i, "POST", "/api/v1/kv", {"key": key, "value": value}, headers, timeout)

    def get(self, i, key, request_id=None, timeout=30):
        headers = {"request-id": request_id} if request_id else None
        return self.request(i, "GET", "/api/v1/kv?key=" + key, headers=headers, timeout=timeout)

    def get_local(self, i, key):
        return self.request(i, "GET", "/api/v1/kv/local?key=" + key)

    def state(self, i):
        return self.request(i, "GET", "/api/v1/pbft/state", timeout=5).json()

    # ---------------------------------------------------------------- waiting
    def wait_healthy(self, i, timeout=30):
        """Waits for replica i's liveness check. On timeout the failure shows whether the
        process is still running and the end of its log since its latest start (a replica
        loading a large data folder under a sanitizer on a loaded machine can be slow)."""
        def ok():
            try:
                return self.request(i, "GET", "/api/v1/health", timeout=1).status == 200
            except OSError:
                return False
        def detail():
            if i not in self.procs:
                status = "not started"
            else:
                status = "running" if self.running(i) else "exited with %s" % self.exit_code(i)
            tail = "\n".join(self.run_log(i).splitlines()[-30:])
            return "replica %d %s; its log since it started:\n%s" % (i, status, tail)
        self.wait_for(ok, timeout, "replica %d to answer /api/v1/health" % i, detail)

    def wait_for(self, cond, timeout, what, detail=None):
        """Polls cond() every 0.1 s until it is true. On timeout, fails naming `what`, the
        last error cond() raised and, if given, what detail() returns (the state seen)."""
        deadline = time.time() + timeout
        last_error = None
        while time.time() < deadline:
            try:
                if cond():
                    return
            except (OSError, KeyError, ValueError, TypeError, http.client.HTTPException) as e:
                last_error = e
            time.sleep(0.1)
        seen = ""
        if detail is not None:
            try:
                seen = "; seen: %s" % detail()
            except Exception as e:  # the detail is best effort
                seen = "; seen: (%r)" % e
        raise AssertionError("timed out after %ss waiting for %s (last error: %r)%s"
                             % (timeout, what, last_error, seen))

    def put_with_retry(self, i, key, value, timeout=60):
        """A write that retries (same request-id) until the cluster commits it."""
        rid = str(uuid.uuid4())
        deadline = time.time() + timeout
        while True:
            try:
                r = self.put(i, key, value, request_id=rid, timeout=15)
                if r.status == 200:
                    return r.json()
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError("write %s=%s never committed" % (key, value))
            time.sleep(0.5)

    def get_with_retry(self, i, key, timeout=60):
        """A consensus read that retries (same request-id) until it gets an answer;
        returns the value (None for an absent key)."""
        rid = str(uuid.uuid4())
        deadline = time.time() + timeout
        last = None
        while True:
            try:
                r = self.get(i, key, request_id=rid, timeout=15)
                if r.status == 200:
                    return r.json()["value"]
                last = (r.status, r.body[:200])
            except (OSError, http.client.HTTPException) as e:
                last = e
            if time.time() > deadline:
                raise AssertionError("read of %s through replica %d never answered (last: %r)" % (key, i, last))
            time.sleep(0.5)
