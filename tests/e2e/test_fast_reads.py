"""The read-only fast path against real kv-node processes.

GET /api/v1/kv?key=K&consistency=fast sends the read to every replica,
each answers from its executed state at once, and the gateway accepts an
answer given by every replica (header pbft-read-path: fast); otherwise it
orders the read (pbft-read-path: ordered). So a fast read never misses an
acknowledged write (one correct replica has executed it), whichever
gateway the write and the read go through, and one lying or missing
replica only makes reads slower.
"""
import unittest

from cluster import Cluster

LIAR = 3
LYING_ENV = {"PBFT_MISBEHAVE": "wrong-results", "PBFT_ALLOW_MISBEHAVIOUR": "1"}


def fast_get(c, i, key, headers=None):
    return c.request(i, "GET", "/api/v1/kv?key=%s&consistency=fast" % key, headers=headers)


def counter(c, i, name):
    text = c.request(i, "GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


class FastReads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_a_fast_read_answers_from_every_gateway(self):
        revision = self.c.put_with_retry(0, "fast-a", "one")["operation_sequence"]
        for i in range(4):
            before = counter(self.c, i, "pbft_fast_reads_total")
            r = fast_get(self.c, i, "fast-a")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers.get("pbft-read-path"), "fast")
            body = r.json()
            self.assertEqual(body["value"], "one")
            self.assertEqual(body["revision"], revision)
            self.assertIsNone(body["operation_sequence"], "a fast read is not ordered")
            self.assertEqual(counter(self.c, i, "pbft_fast_reads_total"), before + 1)
        missing = fast_get(self.c, 1, "fast-never-written")
        self.assertEqual(missing.status, 200, missing.body)
        self.assertIsNone(missing.json()["value"])

    def test_an_ordered_read_says_so(self):
        self.c.put_with_retry(0, "fast-b", "x")
        for path in ("/api/v1/kv?key=fast-b", "/api/v1/kv?key=fast-b&consistency=ordered"):
            r = self.c.request(2, "GET", path)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers.get("pbft-read-path"), "ordered")
            self.assertIsInstance(r.json()["operation_sequence"], int)

    def test_every_acknowledged_write_is_seen_by_the_next_fast_read(self):
        # Write through one gateway, read at once through another: the read
        # must see the write (or fall back to ordering, which also must).
        for n in range(40):
            w, r = n % 4, (n + 1 + n % 3) % 4
            value = "v%d" % n
            put = self.c.put(w, "fast-rw", value)
            self.assertEqual(put.status, 200, put.body)
            got = fast_get(self.c, r, "fast-rw")
            self.assertEqual(got.status, 200, got.body)
            self.assertEqual(got.json()["value"], value, "read %d through replica %d after a write through %d" % (n, r, w))

    def test_bad_input(self):
        r = self.c.request(0, "GET", "/api/v1/kv?key=k&consistency=eventual")
        self.assertEqual(r.status, 400)
        self.assertIn("consistency must be ordered or fast", r.json()["error"])
        r = self.c.request(0, "GET", "/api/v1/kv?key=k&consistency=fast&proof=1")
        self.assertEqual(r.status, 400)
        self.assertIn("reply certificate needs an ordered read", r.json()["error"])
        r = fast_get(self.c, 0, "k", headers={"request-id": "2f1b0c52-6a8e-4a52-9b55-1f4f0d0c8e11"})
        self.assertEqual(r.status, 400)
        self.assertIn("takes no request-id", r.json()["error"])
        r = self.c.request(0, "GET", "/api/v1/kv?consistency=fast")
        self.assertEqual(r.status, 400)


class FastReadsWithALiar(unittest.TestCase):
    """Replica 3 answers every read with a forged (signed) result."""

    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(replica_env={LIAR: LYING_ENV}).start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_a_forged_answer_sends_the_read_to_ordering(self):
        self.c.put_with_retry(0, "liar-a", "truth")
        for i in range(3):  # honest gateways
            before = counter(self.c, i, "pbft_fast_read_fallbacks_total")
            r = fast_get(self.c, i, "liar-a")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["value"], "truth")
            self.assertEqual(r.headers.get("pbft-read-path"), "ordered")
            self.assertEqual(counter(self.c, i, "pbft_fast_read_fallbacks_total"), before + 1)

    def test_with_a_replica_down_the_read_is_ordered(self):
        self.c.put_with_retry(0, "liar-b", "truth")
        self.c.kill(2)
        try:
            # Two honest answers and a forged one, one replica silent.
            before = counter(self.c, 0, "pbft_fast_read_fallbacks_total")
            r = fast_get(self.c, 0, "liar-b")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["value"], "truth")
            self.assertEqual(r.headers.get("pbft-read-path"), "ordered")
            self.assertEqual(counter(self.c, 0, "pbft_fast_read_fallbacks_total"), before + 1)
        finally:
            self.c.start_replica(2)
            self.c.wait_healthy(2)


if __name__ == "__main__":
    unittest.main()
