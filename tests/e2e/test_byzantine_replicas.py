"""The dev cluster (5 replicas, f = 1) with one replica in a test-only Byzantine
mode: silent (sends nothing to its peers and no replies), corrupt-signatures
(every protocol message it sends carries a broken signature inside a valid
frame), slow-primary (holds each batch just under the view-change
timeout), equivocate (as primary, two different signed proposals for each
slot), wrong-checkpoint-digest (signed checkpoints of a state it does not
have), replay (sends old messages again) or flood (thousands of prepares a
second with broken signatures to every peer). As a backup it must not stop
the others; as the primary it must be replaced, every acknowledged write
must be readable afterwards, and the correct replicas must agree."""
import json
import time
import unittest

from cluster import Cluster


def byzantine(mode):
    return {"PBFT_MISBEHAVE": mode, "PBFT_ALLOW_MISBEHAVIOUR": "1"}


def rejected(c, i, reason):
    body = c.request(i, "GET", "/metrics").body
    text = body.decode() if isinstance(body, bytes) else body
    total = 0
    for line in text.splitlines():
        if line.startswith("pbft_messages_rejected_total{") and 'layer="core"' in line \
                and 'reason="%s"' % reason in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def rejected_bad_signatures(c, i):
    return rejected(c, i, "bad_signature")


def metric_value(c, i, name):
    for line in c.request(i, "GET", "/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


class ByzantineReplicas(unittest.TestCase):
    def write_and_read_back(self, c, through, count):
        for n in range(count):
            c.put_with_retry(through[n % len(through)], "b%d" % n, "v%d" % n)
        for n in range(count):
            self.assertEqual(c.get_with_retry(through[(n + 1) % len(through)], "b%d" % n), "v%d" % n)

    def test_silent_backup_does_not_stop_the_others(self):
        with Cluster(replica_env={4: byzantine("silent")}) as c:
            c.start()
            self.write_and_read_back(c, [0, 1, 2, 3], 12)
            self.assertTrue(c.running(4))
            self.assertIn("TEST-ONLY BYZANTINE MODE 'silent'", c.run_log(4))

    def test_silent_primary_is_replaced(self):
        with Cluster(replica_env={0: byzantine("silent")}) as c:
            c.start()
            self.write_and_read_back(c, [1, 2, 3, 4], 6)
            self.assertGreaterEqual(c.state(1)["view"], 1)

    def test_backup_with_corrupt_signatures_is_rejected_not_followed(self):
        with Cluster(replica_env={4: byzantine("corrupt-signatures")}) as c:
            c.start()
            self.write_and_read_back(c, [0, 1, 2, 3], 8)
            # Its prepares and commits reached the others and were refused.
            c.wait_for(lambda: rejected_bad_signatures(c, 1) > 0, 15,
                       "replica 1 to count rejected signatures from replica 4")

    def test_primary_with_corrupt_signatures_is_replaced(self):
        with Cluster(replica_env={0: byzantine("corrupt-signatures")}) as c:
            c.start()
            self.write_and_read_back(c, [1, 2, 3, 4], 6)
            self.assertGreaterEqual(c.state(2)["view"], 1)
            self.assertGreater(rejected_bad_signatures(c, 2), 0)

    def assert_correct_replicas_agree(self, c, correct, keys):
        for key in keys:
            c.wait_for(lambda: len({c.get_local(i, key).body for i in correct}) == 1, 20,
                       "the correct replicas to agree on %s" % key)

    def test_equivocating_primary_is_replaced(self):
        with Cluster(replica_env={0: byzantine("equivocate")}) as c:
            c.start()
            self.write_and_read_back(c, [1, 2, 3, 4], 6)
            self.assertGreaterEqual(c.state(2)["view"], 1)
            self.assertIn("TEST-ONLY BYZANTINE MODE 'equivocate'", c.run_log(0))
            self.assert_correct_replicas_agree(c, [1, 2, 3, 4], ["b%d" % n for n in range(6)])

    def test_wrong_checkpoint_digests_never_certify_a_checkpoint(self):
        with Cluster(replica_env={4: byzantine("wrong-checkpoint-digest")}) as c:
            c.start()
            self.write_and_read_back(c, [0, 1, 2, 3], 25)
            c.wait_for(lambda: (c.state(1)["last_stable_checkpoint_sequence"] or 0) >= 10, 20,
                       "a stable checkpoint without replica 4")
            snap = json.loads(c.request(1, "GET", "/api/v1/snapshot").body)
            signers = {e["replica"] for e in snap["certificate"]}
            self.assertEqual(len(signers), 4, snap)
            self.assertNotIn(4, signers, "a checkpoint certificate holds only matching digests")

    def test_slow_primary_is_replaced(self):
        # It would hold each batch 4 s (80% of the 5 s view-change timeout);
        # the backups replace it once a request waits 400 ms unproposed (200 ms, passed on to it, 200 ms).
        with Cluster(replica_env={0: byzantine("slow-primary")}) as c:
            c.start()
            started = time.time()
            self.write_and_read_back(c, [1, 2, 3, 4], 10)
            self.assertLess(time.time() - started, 20, "10 writes and reads, 4 s per batch would take 40 s")
            self.assertGreaterEqual(c.state(2)["view"], 1)
            suspicions = sum(metric_value(c, i, "pbft_slow_primary_view_changes_total") for i in (1, 2, 3, 4))
            self.assertGreaterEqual(suspicions, 2, "f+1 backups saw the primary stall")

    def test_replaying_backup_does_not_stop_the_others(self):
        with Cluster(replica_env={4: byzantine("replay")}) as c:
            c.start()
            self.write_and_read_back(c, [0, 1, 2, 3], 25)
            self.assert_correct_replicas_agree(c, [0, 1, 2, 3], ["b%d" % n for n in range(25)])

    def test_replaying_primary_keeps_the_cluster_consistent(self):
        with Cluster(replica_env={0: byzantine("replay")}) as c:
            c.start()
            self.write_and_read_back(c, [1, 2, 3, 4], 25)
            self.assert_correct_replicas_agree(c, [1, 2, 3, 4], ["b%d" % n for n in range(25)])


    def test_flooding_backup_does_not_stop_the_others(self):
        # Replica 4 sends each peer about 25,000 prepares a second, each with
        # a broken signature the receiver would have to check, and otherwise
        # takes part correctly. (Its own gateway's requests go unheard while
        # it is muted: its clients must use another replica.)
        with Cluster(replica_env={4: byzantine("flood")}) as c:
            c.start()
            self.write_and_read_back(c, [0, 1, 2, 3], 20)
            # Caught at its first bad signature, it is muted: the rest of
            # its flood is dropped unread.
            self.assertGreaterEqual(metric_value(c, 1, "pbft_peer_mutes_total"), 1)
            c.wait_for(lambda: rejected(c, 1, "muted") > 1000, 15,
                       "replica 1 to drop a thousand of the flood's prepares unread")
            self.assertLess(rejected_bad_signatures(c, 1), 100, "one signature check per mute (10 s)")
            self.assert_correct_replicas_agree(c, [0, 1, 2, 3], ["b%d" % n for n in range(20)])

if __name__ == "__main__":
    unittest.main()
