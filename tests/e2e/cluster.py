"""A local pbft-kv cluster of real kv-node processes, for end-to-end tests.

Starts the built-in dev cluster (PBFT_DEV=<i>) on a free port range with its
own data folder, and offers small HTTP helpers. Python standard library only.
"""
import http.client
import json
import os
import random
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


def free_base_port():
    """A base port whose HTTP (base+i) and replica (base+100+i) ports are free."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000, 10)
        ports = [base + i for i in range(DEV_REPLICAS)] + [base + 100 + i for i in range(DEV_REPLICAS)]
        if all(_port_free(p) for p in ports):
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
    def __init__(self, log_filter="info"):
        self.base = free_base_port()
        self.dir = tempfile.TemporaryDirectory(prefix="pbft-e2e-")
        self.procs = {}
        self.logs = {}
        self.log_filter = log_filter

    # ---------------------------------------------------------------- processes
    def start(self, replicas=range(DEV_REPLICAS), wait=True):
        for i in replicas:
            self.start_replica(i)
        if wait:
            for i in replicas:
                self.wait_healthy(i)
            self.wait_for(lambda: all(self.state(i)["connected_peers"] >= 2 for i in replicas), 15,
                          "replicas to connect to each other")
        return self

    def start_replica(self, i):
        env = dict(os.environ)
        env.update({
            "PBFT_DEV": str(i),
            "PBFT_DEV_BASE_PORT": str(self.base),
            "PBFT_DATA_DIR": os.path.join(self.dir.name, "replica-%d" % i),
            "PBFT_LOG": self.log_filter,
        })
        log = open(os.path.join(self.dir.name, "replica-%d.log" % i), "ab")
        self.logs[i] = log.name
        self.procs[i] = subprocess.Popen([KV_NODE], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs.pop(i)
        p.send_signal(sig)
        return p.wait(timeout=10)

    def stop(self):
        for i in list(self.procs):
            p = self.procs.pop(i)
            p.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        for p in list(self.procs.values()):
            p.wait(timeout=max(0.1, deadline - time.time()))

    def close(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs.clear()
        self.dir.cleanup()

    def log_text(self, i):
        with open(self.logs[i], "rb") as f:
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
    def wait_healthy(self, i, timeout=15):
        def ok():
            try:
                return self.request(i, "GET", "/api/v1/health", timeout=1).status == 200
            except OSError:
                return False
        self.wait_for(ok, timeout, "replica %d to answer /api/v1/health" % i)

    def wait_for(self, cond, timeout, what):
        deadline = time.time() + timeout
        last_error = None
        while time.time() < deadline:
            try:
                if cond():
                    return
            except (OSError, KeyError, ValueError) as e:
                last_error = e
            time.sleep(0.1)
        raise AssertionError("timed out after %ss waiting for %s (last error: %r)" % (timeout, what, last_error))

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
