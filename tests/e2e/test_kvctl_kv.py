"""kvctl's key-value commands (put, get, del, scan, cas, txn) against a real cluster."""
import json
import os
import socket
import subprocess
import unittest

from cluster import KV_NODE, Cluster

KVCTL = os.path.join(os.path.dirname(KV_NODE), "kvctl")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KvctlKv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()
        for i in range(5):
            cls.c.put_with_retry(i, "warmup/%d" % i, "ok")
        cls.endpoints = ",".join("127.0.0.1:%d" % cls.c.http_port(i) for i in range(5))

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def kvctl(self, *args, stdin=None, endpoints=None, code=0):
        r = subprocess.run([KVCTL, "--endpoints", endpoints or self.endpoints, *args], input=stdin,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, code, "kvctl %s: stdout %r stderr %r" % (args, r.stdout, r.stderr))
        return r

    def test_put_get_del_with_tables_and_json(self):
        r = self.kvctl("put", "cli/a", "hello world")
        self.assertEqual(r.stdout.splitlines()[0].split(), ["KEY", "REVISION"])
        rev = int(r.stdout.splitlines()[1].split()[1])
        r = self.kvctl("-o", "json", "get", "cli/a")
        j = json.loads(r.stdout)
        self.assertEqual((j["value"], j["revision"]), ("hello world", rev))
        r = self.kvctl("get", "cli/a")
        self.assertEqual(r.stdout.splitlines()[1].split(), ["cli/a", "hello", "world", str(rev)])
        self.assertEqual(json.loads(self.kvctl("-o", "json", "del", "cli/a").stdout)["deleted"], True)
        r = self.kvctl("get", "cli/a", code=1)
        self.assertIn("not found", r.stderr)
        # The plain HTTP route agrees.
        self.assertIsNone(self.c.get(2, "cli/a").json()["value"])

    def test_scan_follows_every_page_in_key_order(self):
        keys = ["cliscan/%04d" % i for i in range(0, 2300, 2)]  # 1150 keys: more than one page of 1000
        for start in range(0, len(keys), 60):
            body = {"success": [{"op": "put", "key": k, "value": k[-4:]} for k in keys[start:start + 60]]}
            self.kvctl("txn", "-", stdin=json.dumps(body))
        j = json.loads(self.kvctl("-o", "json", "scan", "--prefix", "cliscan/").stdout)
        self.assertEqual([e["key"] for e in j["entries"]], keys)
        self.assertEqual(j["count"], len(keys))
        j = json.loads(self.kvctl("-o", "json", "scan", "--prefix", "cliscan/", "--limit", "3").stdout)
        self.assertEqual([e["key"] for e in j["entries"]], keys[:3])
        r = self.kvctl("scan", "--start", "cliscan/0010", "--end", "cliscan/0016")
        self.assertEqual([l.split()[0] for l in r.stdout.splitlines()[1:]],
                         ["cliscan/0010", "cliscan/0012", "cliscan/0014"])
        self.kvctl("scan", "--prefix", "a", "--start", "b", code=1)

    def test_cas_and_txn(self):
        self.kvctl("cas", "cli/lock", "ann", "--expect-absent")
        r = self.kvctl("cas", "cli/lock", "bob", "--expect-absent", code=1)
        self.assertIn("compare failed", r.stderr)
        self.assertIn("'ann'", r.stderr)
        self.kvctl("cas", "cli/lock", "bob", "--expect", "wrong", code=1)
        self.kvctl("cas", "cli/lock", "bob", "--expect", "ann")
        self.assertEqual(self.c.get(1, "cli/lock").json()["value"], "bob")
        r = self.kvctl("cas", "cli/lock", "x", code=1)
        self.assertIn("exactly one of", r.stderr)
        txn = {"compare": [{"key": "cli/lock", "value": "bob"}],
               "success": [{"op": "del", "key": "cli/lock"}, {"op": "put", "key": "cli/free", "value": "1"}],
               "failure": [{"op": "get", "key": "cli/lock"}]}
        r = self.kvctl("txn", stdin=json.dumps(txn))
        self.assertTrue(r.stdout.startswith("SUCCESS"), r.stdout)
        r = self.kvctl("-o", "json", "txn", "-", stdin=json.dumps(txn))
        self.assertFalse(json.loads(r.stdout)["succeeded"])
        r = self.kvctl("txn", stdin="{not json", code=1)
        self.assertIn("not valid JSON", r.stderr)
        r = self.kvctl("txn", stdin=json.dumps({"success": [{"op": "nope", "key": "k"}]}), code=1)
        self.assertIn("400", r.stderr)

    def test_unreachable_endpoints_fail_over_or_fail_clearly(self):
        dead = "127.0.0.1:%d" % closed_port()
        # The first endpoint is down: the next one answers.
        self.kvctl("put", "cli/failover", "1", endpoints=dead + "," + self.endpoints)
        self.assertEqual(self.c.get(0, "cli/failover").json()["value"], "1")
        r = self.kvctl("--timeout-ms", "2000", "get", "k", endpoints=dead, code=1)
        self.assertIn("no endpoint answered", r.stderr)
        r = self.kvctl("get", "k", endpoints="nonsense", code=1)
        self.assertIn("host:port", r.stderr)
        # A bad option is a usage error.
        r = subprocess.run([KVCTL, "-o", "yaml", "get", "k"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
