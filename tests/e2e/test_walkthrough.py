"""The seed README's walk-through, black box, against real kv-node processes."""
import signal
import time
import unittest
import uuid

from cluster import Cluster


class Walkthrough(unittest.TestCase):
    def setUp(self):
        self.c = Cluster().start()

    def tearDown(self):
        self.c.close()

    def test_set_get_local_state_health(self):
        c = self.c
        r = c.put(0, "test_key", "test_value")
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(set(body), {"request_id", "operation_sequence", "key", "value"})
        self.assertEqual((body["key"], body["value"]), ("test_key", "test_value"))
        uuid.UUID(body["request_id"])  # a generated id is a UUID
        # An ordered read through another replica (forwarded to the leader).
        r = c.get(3, "test_key")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["value"], "test_value")
        self.assertGreater(r.json()["operation_sequence"], body["operation_sequence"])
        self.assertIsNone(c.get(1, "absent").json()["value"])
        # Local reads: every replica applied the write.
        c.wait_for(lambda: all(c.get_local(i, "test_key").json()["value"] == "test_value" for i in range(5)),
                   10, "every replica to apply the write")
        self.assertEqual(c.get_local(2, "nope").json(), {"key": "nope", "value": None})
        state = c.state(0)
        self.assertEqual(state["replica_state"], {"Leader": {"sequence": state["replica_state"]["Leader"]["sequence"]}})
        self.assertEqual(state["view"], 0)
        self.assertGreaterEqual(state["last_applied"], 2)
        self.assertIsNone(state["last_stable_checkpoint_sequence"])
        self.assertEqual(c.state(1)["replica_state"], "Replica")
        health = c.request(4, "GET", "/api/v1/health")
        self.assertEqual(health.status, 200)

    def test_request_id_retry_returns_first_answer_and_runs_once(self):
        c = self.c
        rid = str(uuid.uuid4())
        first = c.put(0, "k", "v1", request_id=rid)
        self.assertEqual(first.status, 200, first.body)
        later = c.put(1, "k", "v2")
        self.assertEqual(later.status, 200)
        # The retry (through another replica) gets the first answer and does
        # not write v1 again over v2.
        retry = c.put(2, "k", "v1", request_id=rid)
        self.assertEqual(retry.status, 200, retry.body)
        self.assertEqual(retry.json(), first.json())
        self.assertEqual(c.get(3, "k").json()["value"], "v2")
        # The same id for another operation is refused.
        reuse = c.put(4, "k", "other", request_id=rid)
        self.assertEqual(reuse.status, 409, reuse.body)
        self.assertIn("error", reuse.json())

    def test_leader_killed_backup_takes_over_and_keeps_every_write(self):
        c = self.c
        acked = {}
        for n in range(5):
            r = c.put(n % 5, "key%d" % n, "value%d" % n)
            self.assertEqual(r.status, 200, r.body)
            acked["key%d" % n] = "value%d" % n
        c.kill(0, signal.SIGKILL)
        # The next request through replica 1 triggers the view change; it may
        # fail first (as in the seed's walk-through) and succeed on retry.
        c.put_with_retry(1, "after", "view-change", timeout=60)
        acked["after"] = "view-change"
        c.wait_for(lambda: c.state(1)["view"] >= 1 and c.state(1)["replica_state"] != "ViewChange", 30,
                   "replica 1 to finish the view change")
        state = c.state(1)
        self.assertEqual(state["primary"], state["view"] % 5)
        if state["view"] == 1:
            self.assertIn("Leader", state["replica_state"])
        for key, value in acked.items():
            r = c.get(2, key)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["value"], value, key)
        self.assertIn("view change", c.log_text(1))


class ViewChangeAfterCheckpoint(unittest.TestCase):
    def test_view_change_after_checkpoints(self):
        with Cluster() as c:
            c.start()
            for n in range(25):
                r = c.put(n % 5, "ck%d" % n, str(n))
                self.assertEqual(r.status, 200, r.body)
            c.wait_for(lambda: (c.state(1)["last_stable_checkpoint_sequence"] or 0) >= 20, 15,
                       "a stable checkpoint at 20")
            c.kill(0)
            c.put_with_retry(2, "ck-after", "yes", timeout=60)
            for n in range(25):
                self.assertEqual(c.get(3, "ck%d" % n).json()["value"], str(n))
            self.assertEqual(c.get(4, "ck-after").json()["value"], "yes")
            self.assertGreaterEqual(c.state(2)["view"], 1)



class RestartedReplica(unittest.TestCase):
    def test_replica_restarted_empty_catches_up(self):
        # (From its peers' queued messages or, once those are gone, by state
        # transfer from a stable checkpoint.)
        with Cluster() as c:
            c.start()
            c.kill(4)
            for n in range(25):
                self.assertEqual(c.put(n % 4, "r%d" % n, str(n)).status, 200)
            c.start_replica(4)
            c.wait_healthy(4)
            c.wait_for(lambda: c.get_local(4, "r24").json()["value"] == "24", 30,
                       "replica 4 to catch up to the last write")
            self.assertGreaterEqual(c.state(4)["last_stable_checkpoint_sequence"] or 0, 20)


if __name__ == "__main__":
    unittest.main()
