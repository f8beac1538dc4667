"""Durable storage, black box: what a client was told is written survives SIGKILL of
every replica; a replica restarts from its own folder; a wiped replica is rebuilt
from its peers by state transfer."""
import concurrent.futures
import http.client
import os
import threading
import time
import unittest

from cluster import Cluster, DEV_REPLICAS

REPLICAS = range(DEV_REPLICAS)


def acked_put(c, i, key, value):
    """One write attempt; returns the answer's JSON if the cluster acknowledged it
    (HTTP 200), else None (refused, timed out or the connection failed)."""
    try:
        r = c.put(i, key, value, timeout=20)
    except (OSError, http.client.HTTPException):
        return None
    return r.json() if r.status == 200 else None


def put_ok(test, c, i, key, value):
    """A write that must be acknowledged (the cluster is healthy)."""
    r = c.put(i, key, value)
    test.assertEqual(r.status, 200, "write %s through replica %d: %s" % (key, i, r.body[:300]))
    return r.json()["operation_sequence"]


def states(c, replicas=REPLICAS):
    return {i: c.state(i) for i in replicas}


def summary(c, replicas=REPLICAS):
    """The state fields that matter here, per replica, for failure messages."""
    out = {}
    for i in replicas:
        try:
            s = c.state(i)
            out[i] = {k: s.get(k) for k in ("view", "replica_state", "last_applied",
                                           "last_stable_checkpoint_sequence", "state_transfer",
                                           "connected_peers")}
        except Exception as e:  # best effort, for a message
            out[i] = repr(e)
    return out


def wait_all_applied(c, seq, timeout, replicas=REPLICAS):
    c.wait_for(lambda: all(c.state(i)["last_applied"] >= seq for i in replicas), timeout,
               "replicas %s to apply sequence %d" % (list(replicas), seq), lambda: summary(c, replicas))


def local_mismatches(c, i, expected):
    """Keys whose local value on replica i differs from expected: [(key, want, got)]."""
    bad = []
    for key, want in expected.items():
        got = c.get_local(i, key).json()["value"]
        if got != want:
            bad.append((key, want, got))
    return bad


class KillEverything(unittest.TestCase):
    def test_sigkill_all_replicas_loses_no_acknowledged_write(self):
        with Cluster() as c:
            c.start()
            for i in REPLICAS:
                self.assertEqual(c.state(i)["storage"]["engine"], "rocksdb", c.state(i))
            # 250 acknowledged writes of 200 keys through every replica: 5 writers,
            # each owning its keys (so "latest" is well defined); 40 first writes
            # and 10 overwrites each.
            acked = {}  # key -> latest acknowledged value
            lock = threading.Lock()

            def writer(t):
                for n in range(40):
                    put_ok(self, c, t, "w%d-%d" % (t, n), "first-%d-%d" % (t, n))
                    with lock:
                        acked["w%d-%d" % (t, n)] = "first-%d-%d" % (t, n)
                for n in range(10):
                    put_ok(self, c, (t + 1) % 5, "w%d-%d" % (t, n), "second-%d-%d" % (t, n))
                    with lock:
                        acked["w%d-%d" % (t, n)] = "second-%d-%d" % (t, n)

            with concurrent.futures.ThreadPoolExecutor(5) as pool:
                for f in [pool.submit(writer, t) for t in REPLICAS]:
                    f.result()
            self.assertEqual(len(acked), 200)

            # Writes in flight when everything dies: each to a fresh key, so an
            # unacknowledged one may be there or not, and an acknowledged one must be.
            stop = threading.Event()
            inflight = {}  # key -> (value, acknowledged)
            n_acked = [0]

            def inflight_writer(t):
                n = 0
                while not stop.is_set():
                    key, value = "f%d-%d" % (t, n), "inflight-%d-%d" % (t, n)
                    with lock:
                        inflight[key] = (value, False)
                    if acked_put(c, t, key, value) is not None:
                        with lock:
                            inflight[key] = (value, True)
                            n_acked[0] += 1
                    n += 1

            threads = [threading.Thread(target=inflight_writer, args=(t,)) for t in REPLICAS]
            for t in threads:
                t.start()
            c.wait_for(lambda: n_acked[0] >= 10, 20, "10 acknowledged writes under load")
            stop.set()
            codes = c.kill_all()  # SIGKILL to all 5, back to back
            for t in threads:
                t.join(30)
            self.assertEqual(set(codes.values()), {-9}, codes)
            for key, (value, ok) in inflight.items():
                if ok:
                    acked[key] = value
            unknown = {k: v for k, (v, ok) in inflight.items() if not ok}
            n_acked_inflight = sum(ok for _, ok in inflight.values())

            c.start()
            for i in REPLICAS:
                self.assertIn("recovered from", c.run_log(i), "replica %d did not recover its folder" % i)

            # Consensus reads (through every replica) of every acknowledged write.
            keys = sorted(acked)
            with concurrent.futures.ThreadPoolExecutor(5) as pool:
                got = dict(zip(keys, pool.map(lambda kv: c.get_with_retry(kv[0] % 5, kv[1], timeout=40),
                                              enumerate(keys))))
            lost = [(k, acked[k], got[k]) for k in keys if got[k] != acked[k]]
            self.assertEqual(len(lost), 0, "%d of %d acknowledged writes lost (consensus reads; %d of them "
                             "acknowledged under the load the kill cut); first (key, acknowledged, read): %s"
                             % (len(lost), len(acked), n_acked_inflight, lost[:10]))

            # Local reads on every replica, once all have applied a write made now.
            seq = c.put_with_retry(2, "barrier", "after-restart", timeout=30)["operation_sequence"]
            wait_all_applied(c, seq, 30)
            for i in REPLICAS:
                lost = local_mismatches(c, i, acked)
                self.assertEqual(len(lost), 0, "%d of %d acknowledged writes lost on replica %d (local reads); "
                                 "first (key, acknowledged, read): %s" % (len(lost), len(acked), i, lost[:10]))
            # An unacknowledged write is either there or not, and the same on every replica.
            for key, value in unknown.items():
                seen = {c.get_local(i, key).json()["value"] for i in REPLICAS}
                self.assertEqual(len(seen), 1, "replicas disagree on %s: %s" % (key, seen))
                self.assertIn(seen.pop(), (None, value), key)
            print("\n  kill-all: %d acknowledged writes (%d under the load the kill cut), %d in flight "
                  "unacknowledged, 0 lost"
                  % (len(acked), n_acked_inflight, len(unknown)))


class RestartFromOwnFolder(unittest.TestCase):
    def test_each_replica_recovers_alone_then_the_cluster_resumes(self):
        with Cluster() as c:
            c.start()
            expected = {}
            last = 0
            for n in range(25):  # passes two checkpoints (10, 20)
                key, value = "r%d" % n, "v%d" % n
                last = put_ok(self, c, n % 5, key, value)
                expected[key] = value
            wait_all_applied(c, last, 15)
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 20 for i in REPLICAS),
                       15, "a stable checkpoint at 20 on every replica", lambda: summary(c))
            before = {i: s["last_applied"] for i, s in states(c).items()}
            c.kill_all()

            # Each replica alone, with no peer to learn from, comes back with its state.
            for i in REPLICAS:
                c.start_replica(i)
                c.wait_healthy(i)
                log = c.run_log(i)
                self.assertIn("recovered from", log, "replica %d's log after restart:\n%s" % (i, log[-3000:]))
                s = c.state(i)
                self.assertGreaterEqual(s["last_applied"], before[i], "replica %d: %s" % (i, s))
                self.assertGreaterEqual(s["last_stable_checkpoint_sequence"] or 0, 20, "replica %d: %s" % (i, s))
                bad = local_mismatches(c, i, expected)
                self.assertEqual(len(bad), 0, "replica %d alone after restart: %d of %d keys wrong: %s"
                                 % (i, len(bad), len(expected), bad[:10]))
                c.kill(i)

            # All together: the cluster orders again, and the old writes are there.
            c.start()
            for i in REPLICAS:
                self.assertIn("recovered from", c.run_log(i))
                self.assertGreaterEqual(c.state(i)["last_applied"], before[i])
            c.put_with_retry(1, "after", "restart", timeout=30)
            self.assertEqual(c.get_with_retry(3, "r7"), "v7")
            self.assertEqual(c.get_with_retry(4, "after"), "restart")


def metric(c, i, name):
    for line in c.request(i, "GET", "/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


class WipedReplica(unittest.TestCase):
    def test_wiped_replica_is_rebuilt_by_state_transfer(self):
        self.rebuild_wiped_replica()

    def test_a_peer_serving_bad_state_is_noticed_and_passed_over(self):
        # Replica 1 changes one byte of every state-transfer part it serves.
        # The wiped replica asks it for a range of records (its first
        # choice: peers are asked round robin from its own id + 1, the
        # manifest from replica 0), rejects what it sends and gets that range
        # from another peer.
        env = {1: {"PBFT_MISBEHAVE": "bad-state-chunks", "PBFT_ALLOW_MISBEHAVIOUR": "1"}}
        c = self.rebuild_wiped_replica(env)
        self.assertGreater(c.bad_replies, 0, "replica 4 noticed no bad part from replica 1")

    def rebuild_wiped_replica(self, replica_env=None):
        with Cluster(replica_env=replica_env) as c:
            c.start()
            expected = {}
            for n in range(20):
                key, value = "pre%d" % n, "old%d" % n
                put_ok(self, c, n % 5, key, value)
                expected[key] = value
            c.wait_for(lambda: c.get_local(4, "pre19").json()["value"] == "old19", 10,
                       "replica 4 to apply the first writes")
            c.kill(4)
            c.wipe(4)
            self.assertFalse(os.path.exists(c.data_dir(4)))

            # 120 writes through the others: past 10+ checkpoints, far beyond the
            # window (40) of a replica at 0; 20 of them overwrite keys from before.
            last = 0
            for n in range(120):
                if n % 6 == 5:
                    key, value = "pre%d" % (n // 6), "new%d" % n
                else:
                    key, value = "post%d" % n, "v%d" % n
                last = put_ok(self, c, n % 4, key, value)
                expected[key] = value
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 100 for i in range(4)),
                       15, "a stable checkpoint at 100 on replicas 0-3", lambda: summary(c, range(4)))
            stable = max(c.state(i)["last_stable_checkpoint_sequence"] for i in range(4))

            c.start_replica(4)
            c.wait_healthy(4)
            seen_transfer = []

            def caught_up():
                s = c.state(4)
                if s["state_transfer"] is not None:
                    seen_transfer.append(s["state_transfer"])
                return s["state_transfer"] is None and s["last_applied"] >= stable

            c.wait_for(caught_up, 30, "wiped replica 4 to reach the stable checkpoint %d" % stable,
                       lambda: (summary(c, [4]), c.run_log(4)[-2000:]))
            log = c.run_log(4)
            self.assertIn("new replica: empty data folder", log)
            self.assertIn("state transfer complete at seq", log, "replica 4's log:\n%s" % log[-3000:])
            # Then it catches up past the checkpoint, to the last write.
            wait_all_applied(c, last, 20, [4])
            bad = local_mismatches(c, 4, expected)
            self.assertEqual(len(bad), 0, "%d of %d keys wrong in wiped replica 4's local state; first "
                             "(key, expected, read): %s" % (len(bad), len(expected), bad[:10]))
            # And it takes part again: a write now reaches it.
            seq = put_ok(self, c, 4, "after-transfer", "yes")
            wait_all_applied(c, seq, 10, [4])
            self.assertEqual(c.get_local(4, "after-transfer").json()["value"], "yes")
            c.bad_replies = metric(c, 4, "pbft_state_transfer_bad_replies")
            print("\n  wiped replica: stable checkpoint %d, %s" %
                  (stable, [l for l in log.splitlines() if "state transfer complete" in l][-1].strip()))
            return c


class InMemoryReplica(unittest.TestCase):
    def test_in_memory_replica_keeps_nothing_on_disk(self):
        with Cluster() as c:
            c.start()
            for n in range(15):
                put_ok(self, c, n % 5, "m%d" % n, str(n))
            c.wait_for(lambda: c.get_local(3, "m14").json()["value"] == "14", 10, "replica 3 to apply m14")
            c.kill(3)

            def listing():
                out = {}
                for root, _, files in os.walk(c.data_dir(3)):
                    for name in files:
                        st = os.stat(os.path.join(root, name))
                        out[os.path.join(root, name)] = (st.st_size, st.st_mtime_ns)
                return out

            on_disk = listing()
            self.assertTrue(on_disk, "replica 3 wrote nothing to its folder")
            c.start_replica(3, args=["--in-memory"])
            c.wait_healthy(3)
            self.assertEqual(c.state(3)["storage"]["engine"], "memory")
            self.assertNotIn("recovered from", c.run_log(3))
            # It starts empty and catches up from its peers.
            last = 0
            for n in range(15, 40):
                last = put_ok(self, c, n % 5, "m%d" % n, str(n))
            c.wait_for(lambda: all(c.get_local(3, "m%d" % n).json()["value"] == str(n) for n in range(40)), 30,
                       "the in-memory replica 3 to catch up", lambda: summary(c, [3]))
            self.assertEqual(listing(), on_disk, "--in-memory changed replica 3's data folder")
            # Restarted on its folder, it has its old state (not the in-memory run's)
            # and catches up again.
            c.kill(3)
            c.start_replica(3)
            c.wait_healthy(3)
            self.assertIn("recovered from", c.run_log(3))
            self.assertEqual(c.state(3)["storage"]["engine"], "rocksdb")
            wait_all_applied(c, last, 30, [3])
            self.assertEqual(c.get_local(3, "m39").json()["value"], "39")


if __name__ == "__main__":
    unittest.main()
