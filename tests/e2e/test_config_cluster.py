"""A cluster made with `kvctl config init` and started from its config files."""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from cluster import Cluster, KV_NODE, free_base_port

KVCTL = os.path.join(os.path.dirname(KV_NODE), "kvctl")


class ConfiguredCluster(unittest.TestCase):
    def test_config_init_cluster_serves_and_shuts_down_gracefully(self):
        base = free_base_port()
        with tempfile.TemporaryDirectory(prefix="pbft-cfg-") as d:
            out = subprocess.run([KVCTL, "config", "init", "--replicas", "4", "--base-port", str(base),
                                  "--out", d], capture_output=True, text=True, check=True)
            self.assertIn("replica-3.toml", out.stdout)
            for i in range(4):
                mode = os.stat(os.path.join(d, "replica-%d.key" % i)).st_mode & 0o777
                self.assertEqual(mode, 0o600)
            procs = [subprocess.Popen([KV_NODE, "--config", os.path.join(d, "replica-%d.toml" % i)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for i in range(4)]
            try:
                c = Cluster.__new__(Cluster)  # reuse the HTTP helpers on these ports
                c.base = base
                for i in range(4):
                    c.wait_healthy(i)
                # Every replica, not just one: a replica that has not yet linked to a quorum
                # answers 503 (the gateway refuses requests it cannot get ordered).
                c.wait_for(lambda: all(c.state(i)["connected_peers"] == 3 for i in range(4)), 15,
                           "replicas to connect")
                self.assertEqual(c.state(0)["replica_count"], 4)
                r = c.put(1, "configured", "yes")
                self.assertEqual(r.status, 200, r.body)
                r = c.get(2, "configured")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["value"], "yes")
                # kvctl finds every replica through --config.
                cfg = os.path.join(d, "replica-2.toml")
                got = subprocess.run([KVCTL, "--config", cfg, "-o", "json", "get", "configured"],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(got.returncode, 0, got.stderr)
                self.assertEqual(json.loads(got.stdout)["value"], "yes")
                # SIGTERM: the replica exits cleanly in under 2 seconds.
                start = time.time()
                procs[3].send_signal(signal.SIGTERM)
                self.assertEqual(procs[3].wait(timeout=5), 0)
                self.assertLess(time.time() - start, 2.0)
                # 3 of 4 is still a quorum.
                self.assertEqual(c.put(0, "after-stop", "ok").status, 200)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()

    def test_bad_config_fails_at_start_naming_the_setting(self):
        base = free_base_port()
        with tempfile.TemporaryDirectory(prefix="pbft-cfg-") as d:
            subprocess.run([KVCTL, "config", "init", "--replicas", "4", "--base-port", str(base),
                            "--out", d], capture_output=True, check=True)
            path = os.path.join(d, "replica-0.toml")
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("[protocol]", "[protocol]\nwindow_size = 7", 1))
            r = subprocess.run([KV_NODE, "--config", path], capture_output=True, text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("window_size", r.stderr)
            r = subprocess.run([KV_NODE], capture_output=True, text=True, timeout=10,
                               env=dict(os.environ, PBFT_DEV="9"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("PBFT_DEV", r.stderr)


if __name__ == "__main__":
    unittest.main()
