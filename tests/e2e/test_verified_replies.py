"""Reply certificates against real kv-node processes, one of which lies.

Replica 3 runs in the test-only wrong-results mode: it sends forged (and
signed) results to every client, and its own gateway tells its HTTP clients
forged results. `kvctl --verify` must never accept a forged answer, through
any gateway; the plain HTTP route through the lying gateway shows what that
gateway says (it trusts its gateway, as docs/API.md says).
"""
import json
import os
import subprocess
import unittest

from cluster import KV_NODE, Cluster

KVCTL = os.path.join(os.path.dirname(KV_NODE), "kvctl")
EXAMPLE_CLIENT = os.environ.get("EXAMPLE_CLIENT", os.path.join(os.path.dirname(KV_NODE), "example-verified-client"))
LIAR = 3
LYING_ENV = {"PBFT_MISBEHAVE": "wrong-results", "PBFT_ALLOW_MISBEHAVIOUR": "1"}


class MisbehaviourSetting(unittest.TestCase):
    def test_refused_unless_allowed(self):
        env = dict(os.environ, PBFT_DEV="0", PBFT_DEV_BASE_PORT="1", PBFT_MISBEHAVE="wrong-results")
        env.pop("PBFT_ALLOW_MISBEHAVIOUR", None)
        r = subprocess.run([KV_NODE], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("testing.allow_misbehaviour", r.stderr)

    def test_unknown_mode_refused(self):
        env = dict(os.environ, PBFT_DEV="0", PBFT_MISBEHAVE="lie-a-bit", PBFT_ALLOW_MISBEHAVIOUR="1")
        r = subprocess.run([KV_NODE], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("wrong-results", r.stderr)


class VerifiedReplies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(replica_env={LIAR: LYING_ENV}).start()
        for i in range(5):
            if i != LIAR:
                cls.c.put_with_retry(i, "warmup/%d" % i, "ok")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def endpoint(self, i):
        return "127.0.0.1:%d" % self.c.http_port(i)

    def kvctl(self, *args, endpoints, code=0, stdin=None):
        r = subprocess.run([KVCTL, "--endpoints", endpoints, *args], input=stdin, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, code, "kvctl %s: stdout %r stderr %r" % (args, r.stdout, r.stderr))
        return r

    def test_lying_replica_logs_loudly(self):
        self.assertIn("TEST-ONLY BYZANTINE MODE 'wrong-results'", self.c.log_text(LIAR))

    def test_proof_shape_and_plain_answers_carry_none(self):
        r = self.c.request(1, "POST", "/api/v1/kv?proof=1", {"key": "shape", "value": "v1"})
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(j["value"], "v1")
        p = j["proof"]
        self.assertEqual(p["sequence"], j["operation_sequence"])
        self.assertGreaterEqual(len(p["replies"]), 2)  # f + 1 with n = 5
        self.assertEqual(len({x["replica"] for x in p["replies"]}), len(p["replies"]))
        self.assertNotIn(LIAR, [x["replica"] for x in p["replies"]])  # its forged reply does not match
        for x in p["replies"]:
            self.assertEqual(len(bytes.fromhex(x["signature"])), 64)
        self.assertIn(b"v1", bytes.fromhex(p["operation"]))
        # The header switch works too, on a read.
        r = self.c.request(2, "GET", "/api/v1/kv?key=shape", headers={"pbft-proof": "1"})
        self.assertEqual(r.json()["value"], "v1")
        self.assertIn("proof", r.json())
        self.assertNotIn("proof", self.c.get(2, "shape").json())
        self.assertEqual(self.c.request(2, "GET", "/api/v1/kv?key=shape&proof=maybe").status, 400)

    def test_kvctl_verify_through_honest_gateways(self):
        ep = ",".join(self.endpoint(i) for i in (1, 2))
        rev = int(self.kvctl("--verify", "put", "ver/a", "alpha", endpoints=ep).stdout.splitlines()[1].split()[1])
        j = json.loads(self.kvctl("--verify", "-o", "json", "get", "ver/a", endpoints=ep).stdout)
        self.assertEqual((j["value"], j["revision"]), ("alpha", rev))
        self.kvctl("--verify", "cas", "ver/a", "beta", "--expect", "alpha", endpoints=ep)
        self.kvctl("--verify", "cas", "ver/a", "gamma", "--expect", "alpha", endpoints=ep, code=1)
        self.kvctl("--verify", "put", "ver/b", "bravo", endpoints=ep)
        j = json.loads(self.kvctl("--verify", "-o", "json", "scan", "--prefix", "ver/", endpoints=ep).stdout)
        self.assertEqual([(e["key"], e["value"]) for e in j["entries"]], [("ver/a", "beta"), ("ver/b", "bravo")])
        txn = {"compare": [{"key": "ver/b", "value": "bravo"}], "success": [{"op": "get", "key": "ver/a"}]}
        r = self.kvctl("--verify", "txn", "-", endpoints=ep, stdin=json.dumps(txn))
        self.assertIn("SUCCESS", r.stdout)
        self.assertEqual(self.kvctl("--verify", "del", "ver/b", endpoints=ep).stdout.splitlines()[1].split(), ["ver/b", "1"])
        self.kvctl("--verify", "get", "ver/b", endpoints=ep, code=1)

    def test_kvctl_verify_never_accepts_the_lying_gateway(self):
        self.kvctl("--verify", "put", "lie/k", "truth", endpoints=self.endpoint(1))
        liar = self.endpoint(LIAR)
        for args in (["get", "lie/k"], ["put", "lie/k2", "x"], ["del", "lie/none"], ["scan", "--prefix", "lie/"],
                     ["cas", "lie/k", "y", "--expect", "nope"]):
            r = self.kvctl("--verify", *args, endpoints=liar, code=1)
            self.assertIn("answer refused", r.stderr, args)
            self.assertNotIn("forged", r.stdout, args)
        txn = {"compare": [{"key": "lie/k", "value": "truth"}], "success": [{"op": "get", "key": "lie/k"}]}
        r = self.kvctl("--verify", "txn", "-", endpoints=liar, stdin=json.dumps(txn), code=1)
        self.assertIn("answer refused", r.stderr)
        # Listed first, the liar still stops the command rather than have its answer shown.
        r = self.kvctl("--verify", "get", "lie/k", endpoints=liar + "," + self.endpoint(1), code=1)
        self.assertIn("answer refused", r.stderr)
        # The truth, through an honest gateway, verifies.
        r = self.kvctl("--verify", "get", "lie/k", endpoints=self.endpoint(2))
        self.assertEqual(r.stdout.splitlines()[1].split()[:2], ["lie/k", "truth"])

    def library(self, *args, code=0):
        r = subprocess.run([EXAMPLE_CLIENT, str(self.c.base), *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, code, "client %s: stdout %r stderr %r" % (args, r.stdout, r.stderr))
        return r

    def test_library_accepts_only_verified_answers(self):
        self.assertGreater(int(self.library("put", "lib/k", "truth", "1").stdout), 0)
        self.assertEqual(self.library("get", "lib/k", "2").stdout.strip(), "truth")
        # Through the liar alone: no verified answer, and the forged one is not returned.
        r = self.library("get", "lib/k", str(LIAR), code=1)
        self.assertIn("answer refused", r.stderr)
        self.assertNotIn("forged", r.stdout)
        self.library("put", "lib/k2", "x", str(LIAR), code=1)
        # The liar first: its answer is refused and the next endpoint's verified one is returned.
        self.assertEqual(self.library("get", "lib/k", str(LIAR), "4").stdout.strip(), "truth")
        self.assertEqual(self.library("del", "lib/k", str(LIAR), "0").stdout.strip(), "deleted")
        self.assertEqual(self.library("get", "lib/k").stdout.strip(), "(absent)")

    def test_library_scan_cas_and_txn_are_verified(self):
        for k, v in (("a", "1"), ("b", "2"), ("c", "3")):
            self.library("put", "scan/" + k, v, "1")
        self.library("put", "scanx", "outside", "1")
        # Pages of two through the liar first: every page is the verified one.
        lines = self.library("scan", "scan/", str(LIAR), "2").stdout.splitlines()
        self.assertEqual([l.split()[:2] for l in lines], [["scan/a", "1"], ["scan/b", "2"], ["scan/c", "3"]])
        self.assertTrue(all(int(l.split()[2]) > 0 for l in lines))
        self.library("scan", "scan/", str(LIAR), code=1)
        # Compare-and-swap: absence expected, then the wrong value, then the right one.
        self.assertEqual(self.library("cas", "cas/k", "-", "v1", str(LIAR), "0").stdout.strip(), "succeeded")
        self.assertEqual(self.library("cas", "cas/k", "wrong", "v2", "2").stdout.strip(), "failed v1")
        self.assertEqual(self.library("cas", "cas/k", "v1", "v2", str(LIAR), "4").stdout.strip(), "succeeded")
        self.assertEqual(self.library("get", "cas/k", "1").stdout.strip(), "v2")
        # A transaction: the compare fails (the branch that ran reports the current value), then holds.
        self.assertEqual(self.library("txn", "cas/k", "v1", "txn/out", "x", str(LIAR), "1").stdout.strip(),
                         "failed v2")
        self.assertEqual(self.library("get", "txn/out", "2").stdout.strip(), "(absent)")
        self.assertEqual(self.library("txn", "cas/k", "v2", "txn/out", "x", "0").stdout.strip(), "succeeded")
        self.assertEqual(self.library("get", "txn/out", "2").stdout.strip(), "x")

    def test_plain_route_trusts_its_gateway(self):
        self.c.put_with_retry(1, "plain/k", "truth")
        # Without --verify kvctl, like the plain HTTP route, believes the gateway it talks to.
        r = self.c.get(LIAR, "plain/k")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["value"], "forged:truth")
        self.assertEqual(self.c.get(1, "plain/k").json()["value"], "truth")
        r = self.kvctl("get", "plain/k", endpoints=self.endpoint(LIAR))
        self.assertIn("forged:truth", r.stdout)


if __name__ == "__main__":
    unittest.main()
