"""Metrics, readiness, the dashboard's JSON and `kvctl status` against real kv-node processes."""
import json
import os
import re
import subprocess
import time
import unittest

from cluster import Cluster

KVCTL = os.environ.get("KVCTL", os.path.join(os.path.dirname(__file__), "../../build/bin/kvctl"))

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; fails on any line that is not valid exposition."""
    out = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, "TYPE twice for " + name
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out, types


def metric(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


class Observability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def kvctl(self, *args, timeout=30):
        return subprocess.run([KVCTL, *args], capture_output=True, text=True, timeout=timeout)

    def endpoints(self):
        return ",".join("127.0.0.1:%d" % self.c.http_port(i) for i in range(5))

    def test_1_metrics_count_what_the_code_paths_did(self):
        c = self.c
        writes = 12
        for k in range(writes):
            self.assertEqual(c.put(0, "m%d" % k, "v").status, 200)
        self.assertEqual(c.request(0, "GET", "/api/v1/nope").status, 404)
        c.send_raw(0, b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)) * 4)
        time.sleep(0.3)
        r = c.request(0, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        samples, types = parse_metrics(r.body.decode())
        state = c.state(0)

        self.assertEqual(types["pbft_commit_latency_seconds"], "histogram")
        self.assertEqual(types["pbft_http_requests_total"], "counter")
        self.assertGreaterEqual(metric(samples, "pbft_http_requests_total", route="/api/v1/kv", status="200"), writes)
        self.assertGreaterEqual(metric(samples, "pbft_http_requests_total", route="other", status="404"), 1)
        count = metric(samples, "pbft_commit_latency_seconds_count")
        self.assertGreaterEqual(count, writes)
        self.assertEqual(metric(samples, "pbft_commit_latency_seconds_bucket", le="+Inf"), count)
        self.assertGreater(metric(samples, "pbft_commit_latency_seconds_sum"), 0)
        self.assertGreaterEqual(metric(samples, "pbft_executed_requests_total"), writes)
        self.assertGreaterEqual(metric(samples, "pbft_batch_size_requests_count"), 1)
        # Sequence numbers agree with the state endpoint (nothing else is writing).
        self.assertEqual(metric(samples, "pbft_last_executed_seq"), state["last_applied"])
        self.assertGreaterEqual(metric(samples, "pbft_last_prepared_seq"), state["last_applied"])
        stable = state["last_stable_checkpoint_sequence"] or 0
        self.assertEqual(metric(samples, "pbft_stable_checkpoint_seq"), stable)
        self.assertEqual(metric(samples, "pbft_high_watermark_seq"), stable + 40)
        self.assertEqual(metric(samples, "pbft_view"), state["view"])
        self.assertEqual(metric(samples, "pbft_is_primary"), 1)
        for peer in range(1, 5):
            self.assertEqual(metric(samples, "pbft_peer_connected", peer=str(peer)), 1)
            self.assertGreater(metric(samples, "pbft_peer_frames_sent_total", peer=str(peer)), 0)
            self.assertIn(("pbft_peer_send_queue_frames", frozenset({("peer", str(peer))})), samples)
        self.assertGreaterEqual(metric(samples, "pbft_messages_rejected_total", layer="transport", reason="bad_frame"), 1)
        self.assertIn(("pbft_messages_rejected_total", frozenset({("layer", "core"), ("reason", "out_of_window")})),
                      samples)
        # sync = always in dev mode: writes are synced, several by one fsync
        # when they come while the previous one runs (group commit).
        self.assertGreaterEqual(metric(samples, "pbft_storage_sync_seconds_count"), 1)
        self.assertLessEqual(metric(samples, "pbft_storage_sync_seconds_count"),
                             metric(samples, "pbft_storage_write_seconds_count"))
        self.assertEqual(metric(samples, "pbft_state_transfer_active"), 0)
        self.assertEqual(metric(samples, "pbft_ready"), 1)

    def test_2_cors_only_on_read_only_protocol_routes(self):
        c = self.c
        self.assertEqual(c.request(1, "GET", "/api/v1/pbft/state").headers.get("access-control-allow-origin"), "*")
        self.assertEqual(c.request(1, "GET", "/metrics").headers.get("access-control-allow-origin"), "*")
        self.assertNotIn("access-control-allow-origin", c.request(1, "GET", "/api/v1/kv/local?key=a").headers)
        self.assertNotIn("access-control-allow-origin", c.put(1, "cors", "v").headers)

    def test_3_dashboard_json_shows_slots_votes_and_activity(self):
        c = self.c
        for k in range(3):
            self.assertEqual(c.put(2, "d%d" % k, "v").status, 200)
        slots = c.request(3, "GET", "/api/v1/pbft/slots").json()
        self.assertEqual(slots["replica_id"], 3)
        self.assertEqual(slots["quorum"], 4)
        self.assertIsNone(slots["view_change"])
        executed = [s for s in slots["slots"] if s["executed"]]
        self.assertTrue(executed, slots)
        for s in executed:
            self.assertTrue(s["pre_prepare"] and s["prepared"] and s["committed"], s)
            self.assertGreaterEqual(s["prepares"], slots["prepares_needed"])
            self.assertGreaterEqual(s["commits"], slots["commits_needed"])
        activity = c.request(3, "GET", "/api/v1/pbft/activity").json()
        self.assertGreaterEqual(sum(s["executed"] for s in activity["seconds"]), 3)
        self.assertLessEqual(activity["seconds"][-1]["unix_s"] * 1000, activity["now_unix_ms"])
        page = c.request(3, "GET", "/")
        self.assertEqual(page.status, 200)
        self.assertTrue(page.headers["content-type"].startswith("text/html"))
        cluster = c.request(3, "GET", "/api/v1/cluster").json()
        self.assertEqual([m["http_port"] for m in cluster["members"]], [c.http_port(i) for i in range(5)])

    def test_4_kvctl_status_lists_every_replica(self):
        r = self.kvctl("status", "--endpoints", self.endpoints(), "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(r.stdout)
        self.assertEqual([row["replica_id"] for row in rows], [0, 1, 2, 3, 4])
        self.assertEqual([row["role"] for row in rows], ["primary", "backup", "backup", "backup", "backup"])
        self.assertTrue(all(row["reachable"] and row["ready"] for row in rows), rows)
        # The dev defaults find the same cluster from its base port.
        t = self.kvctl("status", "--base-port", str(self.c.base))
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertIn("5 of 5 replicas reachable, 5 ready", t.stdout)
        self.assertRegex(t.stdout, r"\n0 +127\.0\.0\.1:%d +primary +0 " % self.c.http_port(0))

    def test_5_watch_cluster_refreshes_count_times(self):
        r = self.kvctl("watch-cluster", "--endpoints", self.endpoints(), "--interval-ms", "100", "--count", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("REPLICA  ENDPOINT"), 3)
        self.assertEqual(r.stdout.count("5 of 5 replicas reachable"), 3)

    def test_6_bad_endpoint_is_a_clear_error(self):
        r = self.kvctl("status", "--endpoints", "nonsense")
        self.assertEqual(r.returncode, 1)
        self.assertIn("expected host:port", r.stderr)


class Readiness(unittest.TestCase):
    def test_ready_on_a_healthy_cluster_not_when_peers_are_down_and_a_killed_replica_is_unreachable(self):
        with Cluster() as c:
            c.start()
            for i in range(5):
                c.wait_for(lambda: c.request(i, "GET", "/api/v1/ready").status == 200, 10,
                           "replica %d to be ready" % i)
            ok = c.request(0, "GET", "/api/v1/ready")
            self.assertEqual(ok.json(), {"ready": True})

            c.kill(3)
            endpoints = ",".join("127.0.0.1:%d" % c.http_port(i) for i in range(5))
            r = subprocess.run([KVCTL, "status", "--endpoints", endpoints, "-o", "json"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 3, r.stderr)
            rows = json.loads(r.stdout)
            self.assertEqual([row["reachable"] for row in rows], [True, True, True, False, True])
            self.assertTrue(rows[3]["error"])
            table = subprocess.run([KVCTL, "status", "--endpoints", endpoints],
                                   capture_output=True, text=True, timeout=30)
            self.assertIn("127.0.0.1:%d" % c.http_port(3), table.stdout)
            self.assertIn("no (", table.stdout)
            self.assertIn("4 of 5 replicas reachable", table.stdout)
            # 4 of 5 is still a quorum: the others stay ready.
            self.assertEqual(c.request(0, "GET", "/api/v1/ready").status, 200)

            c.kill(4)  # 3 of 5 left, the quorum is 4
            c.wait_for(lambda: c.request(0, "GET", "/api/v1/ready").status == 503, 10,
                       "replica 0 to become not ready")
            r = c.request(0, "GET", "/api/v1/ready")
            body = r.json()
            self.assertFalse(body["ready"])
            self.assertIn("no quorum connected", body["error"])
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertEqual(c.request(0, "GET", "/api/v1/health").status, 200)  # still alive

            c.start_replica(3)
            c.start_replica(4)
            for i in range(5):
                c.wait_for(lambda: c.request(i, "GET", "/api/v1/ready").status == 200, 20,
                           "replica %d to be ready again" % i)


if __name__ == "__main__":
    unittest.main()
