"""Backups with real processes: kvctl snapshot save from a running cluster, inspect,
restore every replica into fresh folders, start, read back; corrupt files and a lying
replica are refused."""
import http.client
import http.server
import os
import re
import subprocess
import tempfile
import threading
import unittest

import signal

from cluster import KV_NODE, Cluster, free_base_port

KVCTL = os.environ.get("KVCTL", os.path.join(os.path.dirname(KV_NODE), "kvctl"))


def kvctl(*args, timeout=120):
    return subprocess.run([KVCTL, *args], capture_output=True, text=True, timeout=timeout)


class LyingProxy:
    """An HTTP endpoint in front of one replica that forwards every GET but changes one
    byte in every chunk of records it passes on (a replica lying about its state)."""

    def __init__(self, port):
        target = port

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                conn = http.client.HTTPConnection("127.0.0.1", target, timeout=30)
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                if self.path.startswith("/api/v1/snapshot/chunk") and r.status == 200 and len(body) > 20:
                    body = bytearray(body)
                    body[len(body) // 2] ^= 0x01
                    body = bytes(body)
                self.send_response(r.status)
                self.send_header("Content-Type", r.getheader("Content-Type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Snapshot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pbft-snap-")
        self.file = os.path.join(self.tmp.name, "backup.pbkv")

    def tearDown(self):
        self.tmp.cleanup()

    def endpoints(self, c):
        return ",".join("127.0.0.1:%d" % c.http_port(i) for i in range(5))

    def test_save_restore_every_replica_and_read_back(self):
        written = {}
        with Cluster() as c:
            c.start()
            for n in range(45):
                key, value = "snap/%03d" % n, "value-%d-%s" % (n, "x" * (n % 7))
                r = c.put_with_retry(n % 5, key, value)
                written[key] = (value, r["operation_sequence"])
            # A stable checkpoint above every write on every replica.
            top = max(seq for _, seq in written.values())
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= top - top % 10
                                   for i in range(5)), 30, "a stable checkpoint on every replica")

            r = kvctl("snapshot", "save", self.file, "--endpoints", self.endpoints(c), "--progress")
            self.assertEqual(r.returncode, 0, r.stderr)
            m = re.search(r"saved .*: checkpoint (\d+), digest ([0-9a-f]{64}), (\d+) keys", r.stdout)
            self.assertIsNotNone(m, r.stdout)
            seq, digest = int(m.group(1)), m.group(2)
            self.assertGreaterEqual(seq, top - top % 10)
            self.assertIn("snapshot: buckets", r.stderr)  # progress
            self.assertFalse(os.path.exists(self.file + ".tmp"))
            before = {k: v for k, (v, s) in written.items() if s <= seq}
            self.assertEqual(int(m.group(3)), len(before))

            # The replicas say what they served: the checkpoint is kept for the client, bytes counted.
            served = 0
            for i in range(5):
                text = c.request(i, "GET", "/metrics").body.decode()
                self.assertRegex(text, r"(?m)^pbft_snapshot_exports 1$")
                served += int(float(re.search(r"(?m)^pbft_snapshot_export_bytes_total (\S+)$", text).group(1)))
            self.assertGreater(served, 0)
            # The routes' own errors: a checkpoint not exported, a malformed range.
            self.assertEqual(c.request(0, "GET", "/api/v1/snapshot/state?seq=%d" % (seq + 10)).status, 410)
            self.assertEqual(c.request(0, "GET", "/api/v1/snapshot/chunk?seq=%d&bucket=5&end=5" % seq).status, 400)
            self.assertEqual(c.request(0, "POST", "/api/v1/snapshot", b"").status, 405)

            # Written after the snapshot: must not come back.
            late = c.put_with_retry(0, "late/key", "after the backup")
            self.assertGreater(late["operation_sequence"], seq)

        r = kvctl("snapshot", "inspect", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("seq           %d" % seq, r.stdout)
        self.assertIn(digest, r.stdout)
        self.assertIn("checksum      ok", r.stdout)

        with Cluster() as c2:  # fresh folders, other ports, the same (dev) cluster
            for i in range(5):
                r = kvctl("snapshot", "restore", self.file, "--data-dir", c2.data_dir(i))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("checkpoint %d" % seq, r.stdout)
            # A second restore into a folder that is no longer empty is refused.
            r = kvctl("snapshot", "restore", self.file, "--data-dir", c2.data_dir(0))
            self.assertEqual(r.returncode, 1)
            self.assertIn("not empty", r.stderr)
            c2.start()
            for i in range(5):
                s = c2.state(i)
                self.assertEqual(s["last_applied"], seq)
                self.assertEqual(s["last_stable_checkpoint_sequence"], seq)
                self.assertEqual(s["view"], 0)
            for n, (key, value) in enumerate(sorted(before.items())):
                self.assertEqual(c2.get_with_retry(n % 5, key), value, key)
                self.assertEqual(c2.get_local(n % 5, key).json()["value"], value)
            self.assertIsNone(c2.get_with_retry(1, "late/key"))
            # The restored cluster goes on: new writes commit above the checkpoint.
            r = c2.put_with_retry(2, "after/restore", "yes")
            self.assertGreater(r["operation_sequence"], seq)
            self.assertEqual(c2.get_with_retry(4, "after/restore"), "yes")

    def test_a_configured_cluster_with_its_own_keys(self):
        base = free_base_port()
        d = os.path.join(self.tmp.name, "cluster")
        r = kvctl("config", "init", "--replicas", "4", "--base-port", str(base), "--out", d, "--cluster-id", "9")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfgs = [os.path.join(d, "replica-%d.toml" % i) for i in range(4)]

        def start():
            return [subprocess.Popen([KV_NODE, "--config", cfg], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL) for cfg in cfgs]

        def stop(procs):
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=10)

        c = Cluster.__new__(Cluster)  # Cluster's HTTP methods, on these ports
        c.base = base
        procs = start()
        try:
            for i in range(4):
                c.wait_healthy(i)
            c.wait_for(lambda: all(c.state(i)["connected_peers"] == 3 for i in range(4)), 15, "replicas to connect")
            seqs = {}
            for n in range(12):
                seqs[n] = c.put_with_retry(n % 4, "cfg/%d" % n, "c%d" % n)["operation_sequence"]
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 10 for i in range(4)),
                       30, "a stable checkpoint")
            # The dev cluster's keys and id do not fit this cluster: nothing is saved.
            eps = ",".join("127.0.0.1:%d" % (base + i) for i in range(4))
            r = kvctl("snapshot", "save", self.file, "--endpoints", eps)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cluster 9", r.stderr)
            self.assertFalse(os.path.exists(self.file))
            r = kvctl("snapshot", "save", self.file, "--config", cfgs[1])
            self.assertEqual(r.returncode, 0, r.stderr)
            seq = int(re.search(r"checkpoint (\d+)", r.stdout).group(1))
        finally:
            stop(procs)
        r = kvctl("snapshot", "inspect", self.file, "--config", cfgs[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("certificate   valid", r.stdout)
        self.assertIn("cluster_id    9", r.stdout)
        # Into each config's own data folder, replacing what is there.
        for cfg in cfgs:
            r = kvctl("snapshot", "restore", self.file, "--config", cfg, "--force")
            self.assertEqual(r.returncode, 0, r.stderr)
        procs = start()
        try:
            for i in range(4):
                c.wait_healthy(i)
            for i in range(4):
                self.assertEqual(c.state(i)["last_applied"], seq)
            kept = [n for n in range(12) if seqs[n] <= seq]
            self.assertGreaterEqual(len(kept), 5)
            for n in range(12):
                self.assertEqual(c.get_with_retry(n % 4, "cfg/%d" % n), "c%d" % n if n in kept else None)
        finally:
            stop(procs)

    def test_an_exported_checkpoint_stays_readable_after_the_cluster_moves_on(self):
        with Cluster() as c:
            c.start()
            for n in range(12):
                c.put_with_retry(n % 5, "base/%d" % n, "b" * 200)
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 10 for i in range(5)),
                       30, "a stable checkpoint")
            offer = c.request(0, "GET", "/api/v1/snapshot").json()
            seq = offer["seq"]
            self.assertEqual(len(offer["certificate"]), 4)  # q of 5
            # The cluster moves its stable checkpoint past the exported one, and drops its log.
            for n in range(30):
                c.put_with_retry(n % 5, "more/%d" % n, "m")
            c.wait_for(lambda: c.state(0)["last_stable_checkpoint_sequence"] >= seq + 20, 30, "checkpoints to move on")
            # What the client started reading is still there, unchanged.
            again = c.request(0, "GET", "/api/v1/snapshot?seq=%d" % seq)
            self.assertEqual(again.status, 200, again.body)
            self.assertEqual(again.json()["digest"], offer["digest"])
            self.assertEqual(c.request(0, "GET", "/api/v1/snapshot/state?seq=%d" % seq).status, 200)
            chunk = c.request(0, "GET", "/api/v1/snapshot/chunk?seq=%d&bucket=0&end=4352" % seq)
            self.assertEqual(chunk.status, 200)
            self.assertEqual(chunk.headers["content-type"], "application/octet-stream")
            # A checkpoint nobody exported is not.
            self.assertEqual(c.request(1, "GET", "/api/v1/snapshot/state?seq=%d" % seq).status, 410)
            self.assertEqual(c.request(1, "GET", "/api/v1/snapshot?seq=%d" % seq).status, 410)
            # The newest stable checkpoint is what a save takes.
            r = kvctl("snapshot", "save", self.file, "--endpoints", self.endpoints(c))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreaterEqual(int(re.search(r"checkpoint (\d+)", r.stdout).group(1)), seq + 20)

    def test_one_replica_restored_from_an_older_snapshot_catches_up(self):
        with Cluster() as c:
            c.start()
            for n in range(15):
                c.put_with_retry(n % 5, "old/%d" % n, "v%d" % n)
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 10 for i in range(5)),
                       30, "a stable checkpoint")
            r = kvctl("snapshot", "save", self.file, "--endpoints", self.endpoints(c))
            self.assertEqual(r.returncode, 0, r.stderr)
            seq = int(re.search(r"checkpoint (\d+)", r.stdout).group(1))
            # The cluster moves on well past the snapshot.
            for n in range(40):
                c.put_with_retry(n % 4, "new/%d" % n, "w%d" % n)
            top = max(c.state(i)["last_applied"] for i in range(4))
            self.assertGreater(top, seq + 20)
            # Not while the replica runs on that folder.
            r = kvctl("snapshot", "restore", self.file, "--data-dir", c.data_dir(4), "--force")
            self.assertEqual(r.returncode, 1)
            self.assertIn("in use", r.stderr)
            c.kill(4)
            r = kvctl("snapshot", "restore", self.file, "--data-dir", c.data_dir(4), "--force")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(".replaced-", r.stderr)  # the old folder is kept aside
            c.start_replica(4)
            c.wait_healthy(4)
            c.wait_for(lambda: c.state(4)["last_applied"] >= top, 60, "the restored replica to catch up",
                       lambda: c.state(4))
            self.assertEqual(c.get_local(4, "new/39").json()["value"], "w39")
            self.assertEqual(c.get_local(4, "old/0").json()["value"], "v0")
            log = c.run_log(4)
            self.assertIn("recovered from", log)
            # The log below the cluster's stable checkpoint is gone: only state transfer brings it up.
            self.assertIn("state transfer complete", log)

    def test_corrupt_files_are_refused_and_a_lying_replica_is_skipped(self):
        with Cluster() as c:
            c.start()
            for n in range(25):
                c.put_with_retry(n % 5, "k/%d" % n, "v%d" % n)
            c.wait_for(lambda: all((c.state(i)["last_stable_checkpoint_sequence"] or 0) >= 20 for i in range(5)),
                       30, "a stable checkpoint")
            proxy = LyingProxy(c.http_port(0))
            try:
                eps = "127.0.0.1:%d,%s" % (proxy.port, self.endpoints(c))
                r = kvctl("snapshot", "save", self.file, "--endpoints", eps)
            finally:
                proxy.close()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("do not verify", r.stderr)
            self.assertIn("asking another replica", r.stderr)
            self.assertEqual(kvctl("snapshot", "inspect", self.file).returncode, 0)

            # No replica answers: nothing is written.
            missing = os.path.join(self.tmp.name, "never.pbkv")
            r = kvctl("snapshot", "save", missing, "--endpoints", "127.0.0.1:%d" % proxy.port, "--timeout-ms", "500")
            self.assertEqual(r.returncode, 1)
            self.assertFalse(os.path.exists(missing))
            self.assertFalse(os.path.exists(missing + ".tmp"))

        with open(self.file, "rb") as f:
            good = f.read()
        bad = os.path.join(self.tmp.name, "bad.pbkv")
        for name, data in [("flipped", good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0x20]) +
                            good[len(good) // 2 + 1:]),
                           ("truncated", good[:-10]),
                           ("empty", b"")]:
            with open(bad, "wb") as f:
                f.write(data)
            r = kvctl("snapshot", "inspect", bad)
            self.assertEqual(r.returncode, 1, name)
            self.assertIn("does not verify", r.stderr, name)
            target = os.path.join(self.tmp.name, "restored-" + name)
            r = kvctl("snapshot", "restore", bad, "--data-dir", target)
            self.assertEqual(r.returncode, 1, name)
            self.assertTrue("does not verify" in r.stderr or "not a usable snapshot" in r.stderr, r.stderr)
            self.assertFalse(os.path.exists(target), name)
            self.assertFalse(os.path.exists(target + ".restoring"), name)

        # A good file, but the config is of another cluster.
        cfg = os.path.join(self.tmp.name, "other")
        r = kvctl("config", "init", "--replicas", "5", "--base-port", "30000", "--out", cfg, "--cluster-id", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        target = os.path.join(self.tmp.name, "restored-other")
        r = kvctl("snapshot", "restore", self.file, "--config", os.path.join(cfg, "replica-0.toml"),
                  "--data-dir", target)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cluster", r.stderr)
        self.assertFalse(os.path.exists(target))
        r = kvctl("snapshot", "inspect", self.file, "--config", os.path.join(cfg, "replica-0.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID", r.stdout)


if __name__ == "__main__":
    unittest.main()
