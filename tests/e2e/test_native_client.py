"""The client library's binary protocol against real kv-node processes.

The example client (examples/verified_client.cc) runs with --native: it signs
its requests with a dev client's own key, sends them to every replica's client
port and believes an answer only on f+1 matching replies each signed by its
replica (every replica for a fast read). One replica of the first cluster lies
(the test-only wrong-results mode): no answer it forges is ever accepted. The
second cluster loses its primary: the client goes on without being told.
Raw sockets check what a replica does with a client that breaks the protocol.
"""
import os
import socket
import struct
import subprocess
import time
import unittest

from cluster import KV_NODE, Cluster

EXAMPLE_CLIENT = os.environ.get("EXAMPLE_CLIENT", os.path.join(os.path.dirname(KV_NODE), "example-verified-client"))
LIAR = 3
LYING_ENV = {"PBFT_MISBEHAVE": "wrong-results", "PBFT_ALLOW_MISBEHAVIOUR": "1"}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def request_frame(client, timestamp, operation, signature, cluster_id=1, flags=1):
    """A REQUEST frame as codec.h lays it out (signature as given, not checked here)."""
    body = struct.pack("<QQI", client, timestamp, len(operation)) + operation + bytes([flags]) + signature
    header = struct.pack("<IBBHQII", 0x564B4250, 3, 1, 0, cluster_id, len(body), crc32c(body))
    return header + body


def metric(c, i, name, labels=""):
    prefix = name + labels + " "
    for line in c.request(i, "GET", "/metrics").body.decode().splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError("no metric " + prefix)


def native(c, client, *args, code=0, test=None):
    r = subprocess.run([EXAMPLE_CLIENT, "--native", str(client), str(c.base), *args], capture_output=True, text=True,
                       timeout=60)
    if test is not None:
        test.assertEqual(r.returncode, code, "client %s: stdout %r stderr %r" % (args, r.stdout, r.stderr))
    return r


class NativeClientWithALiar(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(replica_env={LIAR: LYING_ENV}).start()
        cls.c.put_with_retry(0, "warmup", "ok")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def run_client(self, *args, client=1, code=0):
        return native(self.c, client, *args, code=code, test=self)

    def test_every_operation_is_verified_and_never_forged(self):
        self.assertGreater(int(self.run_client("put", "n/k", "truth").stdout), 0)
        for _ in range(5):
            out = self.run_client("get", "n/k").stdout.strip()
            self.assertEqual(out, "truth")
        self.run_client("put", "n/a", "1")
        self.run_client("put", "n/b", "2")
        lines = self.run_client("scan", "n/").stdout.splitlines()
        self.assertEqual([l.split()[:2] for l in lines], [["n/a", "1"], ["n/b", "2"], ["n/k", "truth"]])
        self.assertEqual(self.run_client("cas", "n/k", "wrong", "x").stdout.strip(), "failed truth")
        self.assertEqual(self.run_client("cas", "n/k", "truth", "v2").stdout.strip(), "succeeded")
        self.assertEqual(self.run_client("txn", "n/k", "v2", "n/t", "y").stdout.strip(), "succeeded")
        self.assertEqual(self.run_client("get", "n/t").stdout.strip(), "y")
        self.assertEqual(self.run_client("del", "n/t").stdout.strip(), "deleted")
        self.assertEqual(self.run_client("get", "n/t").stdout.strip(), "(absent)")
        # The liar did answer, with forged results it signed: none was accepted.
        self.assertGreater(metric(self.c, LIAR, "pbft_client_replies_sent_total"), 0)
        # What the cluster holds is the truth (the HTTP route through an honest gateway agrees).
        self.assertEqual(self.c.get(1, "n/k").json()["value"], "v2")

    def test_a_fast_read_that_the_liar_spoils_is_ordered(self):
        # The liar's answer carries no valid signature for what it says, so it never counts;
        # without all n answers the read is ordered after the fallback time.
        self.run_client("put", "f/k", "truth", client=2)
        out = self.run_client("fastget", "f/k", client=2).stdout.split()
        self.assertEqual(out, ["truth", "ordered"])

    def test_clients_are_independent(self):
        # Two clients, each with its own key and timestamps, at once.
        procs = [subprocess.Popen([EXAMPLE_CLIENT, "--native", str(cl), str(self.c.base), "put", "ind/%d" % cl, str(cl)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cl in (3, 4, 5)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        for cl in (3, 4, 5):
            self.assertEqual(self.run_client("get", "ind/%d" % cl).stdout.strip(), str(cl))


class NativeClientFailover(unittest.TestCase):
    def test_fast_reads_then_the_primary_dies(self):
        with Cluster() as c:
            c.start()
            self.assertGreater(int(native(c, 1, "put", "p/k", "v1", test=self).stdout), 0)
            self.assertEqual(native(c, 1, "fastget", "p/k", test=self).stdout.split(), ["v1", "fast"])
            primary = c.state(1)["primary"]
            c.kill(primary)
            # Nobody tells the client: the backups replace the primary and it gets its answer.
            started = time.time()
            native(c, 1, "put", "p/k", "v2", test=self)
            self.assertLess(time.time() - started, 30)
            self.assertEqual(native(c, 6, "get", "p/k", test=self).stdout.strip(), "v2")
            self.assertNotEqual(c.state(1)["primary"], primary)
            # With a replica down a fast read cannot have every replica's answer: ordered.
            self.assertEqual(native(c, 1, "fastget", "p/k", test=self).stdout.split(), ["v2", "ordered"])


class ProtocolBreakers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def connect(self, i=0):
        s = socket.create_connection(("127.0.0.1", self.c.client_port(i)), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_garbage_closes_the_connection(self):
        before = metric(self.c, 0, "pbft_client_connections_closed_for_errors_total")
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 64)
        self.assertEqual(s.recv(100), b"")  # closed, nothing said
        self.c.wait_for(lambda: metric(self.c, 0, "pbft_client_connections_closed_for_errors_total") == before + 1, 10,
                        "the closed connection to be counted")

    def test_a_request_not_signed_by_its_client_is_dropped(self):
        before = metric(self.c, 0, "pbft_client_requests_dropped_total", '{reason="bad_signature"}')
        # Client 1 is known (dev mode), but this is not its signature; client 999 is nobody.
        for frame in (request_frame(1, int(time.time() * 1e6), b"x", bytes(64)), request_frame(999, 1, b"x", bytes(64))):
            s = self.connect()
            s.sendall(frame)
            self.assertEqual(s.recv(100), b"")  # no answer, and the connection is closed
        self.c.wait_for(lambda: metric(self.c, 0, "pbft_client_requests_dropped_total", '{reason="bad_signature"}')
                        == before + 2, 10, "both requests to be refused")
        # The cluster still serves honest clients.
        self.assertEqual(native(self.c, 1, "put", "pb/k", "v", test=self).returncode, 0)

    def test_another_clusters_frame_closes_the_connection(self):
        s = self.connect(1)
        s.sendall(request_frame(1, 1, b"x", bytes(64), cluster_id=77))
        self.assertEqual(s.recv(100), b"")


if __name__ == "__main__":
    unittest.main()
