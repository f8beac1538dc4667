"""Delete, range and prefix reads, compare-and-swap, transactions and revisions,
through the HTTP API of real kv-node processes."""
import unittest
import urllib.parse
import uuid

from cluster import Cluster


class KvOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()
        # Every replica has linked to its peers (a write through each commits)
        # before the tests call without retrying.
        for i in range(5):
            cls.c.put_with_retry(i, "warmup/%d" % i, "ok")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def call(self, i, method, path, body=None, request_id=None, status=200):
        headers = {"request-id": request_id} if request_id else None
        r = self.c.request(i, method, path, body, headers)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def test_delete_and_revisions(self):
        put = self.c.put_with_retry(0, "del/a", "1")
        got = self.call(1, "GET", "/api/v1/kv?key=del/a")
        self.assertEqual(got["value"], "1")
        self.assertEqual(got["revision"], put["operation_sequence"])
        self.assertEqual(self.call(2, "DELETE", "/api/v1/kv?key=del/a")["deleted"], True)
        self.assertEqual(self.call(3, "DELETE", "/api/v1/kv?key=del/a")["deleted"], False)
        got = self.call(4, "GET", "/api/v1/kv?key=del/a")
        self.assertIsNone(got["value"])
        self.assertIsNone(got["revision"])
        # Every replica applied the delete.
        self.c.wait_for(lambda: all(self.c.get_local(i, "del/a").json()["value"] is None for i in range(5)),
                        10, "every replica to apply the delete")

    def test_range_prefix_pages_in_key_order(self):
        keys = ["scan/%02d" % i for i in (7, 3, 11, 0, 5, 9, 1)]
        for k in keys:
            self.c.put_with_retry(keys.index(k) % 5, k, "v" + k)
        self.c.put_with_retry(0, "scan0", "outside")  # past the prefix
        self.c.put_with_retry(0, "sca", "before")
        seen, token, pages = [], None, 0
        while True:
            path = "/api/v1/kv/range?prefix=scan%2F&limit=3" + ("&token=" + token if token else "")
            page = self.call(pages % 5, "GET", path)
            self.assertLessEqual(len(page["entries"]), 3)
            for e in page["entries"]:
                self.assertEqual(e["value"], "v" + e["key"])
                self.assertGreater(e["revision"], 0)
            seen += [e["key"] for e in page["entries"]]
            pages += 1
            if not page["more"]:
                self.assertIsNone(page["token"])
                break
            token = page["token"]
        self.assertEqual(seen, sorted(keys))
        self.assertEqual(pages, 3)
        # Bounds: start inclusive, end exclusive.
        page = self.call(2, "GET", "/api/v1/kv/range?start=scan%2F03&end=scan%2F09")
        self.assertEqual([e["key"] for e in page["entries"]], ["scan/03", "scan/05", "scan/07"])
        self.call(0, "GET", "/api/v1/kv/range?limit=0", status=400)
        self.call(0, "GET", "/api/v1/kv/range?prefix=a&start=b", status=400)
        self.call(0, "POST", "/api/v1/kv/range", {}, status=405)

    def test_compare_and_swap(self):
        r = self.call(0, "POST", "/api/v1/kv/cas", {"key": "cas/k", "value": "1", "expected": None})
        self.assertTrue(r["succeeded"])
        self.assertEqual(r["revision"], r["operation_sequence"])
        r = self.call(1, "POST", "/api/v1/kv/cas", {"key": "cas/k", "value": "2", "expected": None})
        self.assertFalse(r["succeeded"])
        self.assertEqual(r["value"], "1")
        r = self.call(2, "POST", "/api/v1/kv/cas", {"key": "cas/k", "value": "2", "expected": "wrong"})
        self.assertFalse(r["succeeded"])
        r = self.call(3, "POST", "/api/v1/kv/cas", {"key": "cas/k", "value": "2", "expected": "1"})
        self.assertTrue(r["succeeded"])
        self.assertEqual(self.call(4, "GET", "/api/v1/kv?key=cas/k")["value"], "2")
        self.call(0, "POST", "/api/v1/kv/cas", {"key": "cas/k", "value": "2"}, status=400)
        self.call(0, "POST", "/api/v1/kv/cas", {"key": "", "value": "2", "expected": None}, status=400)

    def test_transaction_is_atomic_and_takes_the_right_branch(self):
        self.c.put_with_retry(0, "txn/a", "1")
        body = {"compare": [{"key": "txn/a", "value": "1"}, {"key": "txn/b", "absent": True}],
                "success": [{"op": "put", "key": "txn/b", "value": "2"}, {"op": "del", "key": "txn/a"},
                            {"op": "get", "key": "txn/b"}],
                "failure": [{"op": "get", "key": "txn/a"}]}
        r = self.call(1, "POST", "/api/v1/kv/txn", body)
        self.assertTrue(r["succeeded"])
        self.assertEqual([x["op"] for x in r["results"]], ["put", "del", "get"])
        self.assertEqual(r["results"][2]["value"], "2")
        self.assertTrue(r["results"][1]["deleted"])
        # Run again: the compares fail now, the other branch runs, nothing is written.
        r = self.call(2, "POST", "/api/v1/kv/txn", body)
        self.assertFalse(r["succeeded"])
        self.assertEqual(r["results"], [{"key": "txn/a", "op": "get", "value": None, "revision": None}])
        self.assertEqual(self.call(3, "GET", "/api/v1/kv?key=txn/b")["value"], "2")
        # A revision compare.
        rev = self.call(3, "GET", "/api/v1/kv?key=txn/b")["revision"]
        r = self.call(4, "POST", "/api/v1/kv/txn",
                      {"compare": [{"key": "txn/b", "revision": rev}],
                       "success": [{"op": "put", "key": "txn/b", "value": "3"}]})
        self.assertTrue(r["succeeded"])
        self.call(0, "POST", "/api/v1/kv/txn", {"success": [{"op": "range", "key": "x"}]}, status=400)
        self.call(0, "POST", "/api/v1/kv/txn", "not json".encode(), status=400)

    def test_request_id_makes_each_new_operation_idempotent(self):
        rid = str(uuid.uuid4())
        cas = {"key": "idem/k", "value": "x", "expected": None}
        first = self.call(0, "POST", "/api/v1/kv/cas", cas, request_id=rid)
        self.assertTrue(first["succeeded"])
        # The retry (through another replica) gets the first answer: same sequence, still "succeeded".
        again = self.call(3, "POST", "/api/v1/kv/cas", cas, request_id=rid)
        self.assertEqual(again, first)
        # The same id for another operation: 409.
        self.call(1, "DELETE", "/api/v1/kv?key=idem/k", request_id=rid, status=409)
        rid2 = str(uuid.uuid4())
        d1 = self.call(2, "DELETE", "/api/v1/kv?key=idem/k", request_id=rid2)
        d2 = self.call(4, "DELETE", "/api/v1/kv?key=idem/k", request_id=rid2)
        self.assertEqual(d1, d2)
        self.assertTrue(d2["deleted"])
        q = urllib.parse.quote("idem/")
        rid3 = str(uuid.uuid4())
        p1 = self.call(0, "GET", "/api/v1/kv/range?prefix=" + q, request_id=rid3)
        self.c.put_with_retry(0, "idem/new", "n")
        p2 = self.call(1, "GET", "/api/v1/kv/range?prefix=" + q, request_id=rid3)
        self.assertEqual(p1, p2)  # the first answer, without the later key


if __name__ == "__main__":
    unittest.main()
