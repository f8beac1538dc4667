"""The client library's binary protocol against real kv-node processes.

The example client (examples/verified_client.cc) runs with --native: it signs
its requests with a dev client's own key, sends them to every replica's client
port and believes an answer only on f+1 matching replies each MACed for it by its
replica (every replica for a fast read). One replica of the first cluster lies
(the test-only wrong-results mode): no answer it forges is ever accepted. The
second cluster loses its primary: the client goes on without being told.
A second implementation of the protocol (native_protocol.py, plain Python) checks the wire
format and the MAC keys as a third-party client sees them, and what a replica does with a
client that breaks the rules.
"""
import os
import socket
import subprocess
import time
import unittest

import native_protocol as proto
from cluster import KV_NODE, Cluster

EXAMPLE_CLIENT = os.environ.get("EXAMPLE_CLIENT", os.path.join(os.path.dirname(KV_NODE), "example-verified-client"))
LIAR = 3
LYING_ENV = {"PBFT_MISBEHAVE": "wrong-results", "PBFT_ALLOW_MISBEHAVIOUR": "1"}


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
        # The liar did answer, with forged results it MACed properly: none was accepted.
        self.assertGreater(metric(self.c, LIAR, "pbft_client_replies_sent_total"), 0)
        # What the cluster holds is the truth (the HTTP route through an honest gateway agrees).
        self.assertEqual(self.c.get(1, "n/k").json()["value"], "v2")

    def test_a_fast_read_that_the_liar_spoils_is_ordered(self):
        # The liar's answer differs from the others': no answer can come from all n, so the
        # read is ordered.
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


class ProtocolFromScratch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()
        cls.c.put_with_retry(0, "raw/k", "raw-value")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def link(self, replica, client=9):
        l = proto.Link(self.c.client_port(replica), client, replica)
        self.addCleanup(l.close)
        return l

    def test_a_fast_read_with_a_valid_mac_is_answered_with_one(self):
        answers = []
        for i in range(5):
            l = self.link(i)
            l.send_request(int(time.time() * 1e6), proto.get_operation("raw/k"), proto.FLAG_READ_ONLY)
            r = l.read_reply()
            self.assertIsNotNone(r, "replica %d hung up" % i)
            self.assertTrue(r["mac_ok"], "replica %d's MAC under the key this client derives" % i)
            self.assertEqual((r["client"], r["replica"], r["signed"]), (9, i, False))
            answers.append(r["result"])
        self.assertEqual(len(set(answers)), 1)  # every replica gave the same answer
        self.assertIn(b"raw-value", answers[0])

    def test_a_bad_mac_closes_the_connection(self):
        before = metric(self.c, 0, "pbft_client_connections_closed_for_errors_total")
        l = self.link(0)
        l.send_request(1, proto.get_operation("raw/k"), proto.FLAG_READ_ONLY, tamper_mac=True)
        self.assertIsNone(l.read_reply())
        # The right MAC, but under another client's id: not that client's key.
        other = self.link(0, client=10)
        other.client = 11
        other.send_request(1, proto.get_operation("raw/k"), proto.FLAG_READ_ONLY)
        self.assertIsNone(other.read_reply())
        self.c.wait_for(lambda: metric(self.c, 0, "pbft_client_connections_closed_for_errors_total") == before + 2,
                        10, "the closed connections to be counted")

    def test_an_ordered_request_not_signed_by_its_client_is_dropped(self):
        before = metric(self.c, 0, "pbft_client_requests_dropped_total", '{reason="bad_signature"}')
        executed = metric(self.c, 0, "pbft_executed_requests_total")
        l = self.link(0)
        # A valid MAC (it is this client on the line) but no valid signature: it could not travel in a batch.
        l.send_request(int(time.time() * 1e6), proto.put_operation("raw/k", "forged"), proto.FLAG_SENT_TO_ALL)
        self.assertIsNone(l.read_reply())  # no answer, and the connection closed
        self.c.wait_for(lambda: metric(self.c, 0, "pbft_client_requests_dropped_total", '{reason="bad_signature"}')
                        == before + 1, 10, "the request to be refused")
        self.assertEqual(metric(self.c, 0, "pbft_executed_requests_total"), executed)
        self.assertEqual(self.c.get(1, "raw/k").json()["value"], "raw-value")

    def test_a_write_flagged_read_only_is_never_executed(self):
        # A valid MAC and no signature: it may be answered as a read, never ordered.
        executed = metric(self.c, 0, "pbft_executed_requests_total")
        for i in range(5):
            l = self.link(i)
            l.send_request(int(time.time() * 1e6), proto.put_operation("raw/k", "sneaked"), proto.FLAG_READ_ONLY)
            l.sock.settimeout(1)
            with self.assertRaises(socket.timeout):
                l.read_reply()  # no answer: a put is no read
        time.sleep(0.5)
        self.assertEqual(metric(self.c, 0, "pbft_executed_requests_total"), executed)
        self.assertEqual(self.c.get(2, "raw/k").json()["value"], "raw-value")

    def test_garbage_and_another_clusters_frames_close_the_connection(self):
        s = socket.create_connection(("127.0.0.1", self.c.client_port(1)), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 64)
        self.assertEqual(s.recv(100), b"")
        l = self.link(1)
        f = proto.frame(proto.TYPE_REQUEST, proto.request_body(9, 1, proto.get_operation("raw/k"), proto.FLAG_READ_ONLY),
                        cluster_id=77)
        l.sock.sendall(f + proto.mac(l.tx, f))
        self.assertIsNone(l.read_reply())


if __name__ == "__main__":
    unittest.main()
