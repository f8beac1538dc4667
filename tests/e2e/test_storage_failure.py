"""A replica whose disk fills up stops with a clear log line (exit code 74)
instead of running on a state it could not write; the rest of the cluster goes
on. The small disk is a tmpfs mounted for the test (needs root; skipped
otherwise)."""
import os
import subprocess
import time
import unittest

from cluster import Cluster, DEV_REPLICAS

EX_IOERR = 74


class FullDisk(unittest.TestCase):
    def test_full_disk_stops_the_replica_and_the_others_go_on(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        with Cluster() as c:
            disk = os.path.join(c.dir.name, "small-disk")
            os.makedirs(disk)
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", disk],
                                     capture_output=True, text=True)
            if mounted.returncode != 0:
                self.skipTest("cannot mount a tmpfs here: " + mounted.stderr.strip())
            try:
                for i in range(DEV_REPLICAS - 1):
                    c.start_replica(i)
                c.start_replica(4, env={"PBFT_DATA_DIR": os.path.join(disk, "replica-4")})
                for i in range(DEV_REPLICAS):
                    c.wait_healthy(i)
                c.wait_for(lambda: all(c.state(i)["connected_peers"] >= DEV_REPLICAS - 1
                                       for i in range(DEV_REPLICAS)), 15, "replicas to connect")

                # 512 KiB values: replica 4's 12 MiB disk fills within a few dozen writes.
                value = "v" * (512 * 1024)
                deadline = time.time() + 120
                written = 0
                while c.running(4) and time.time() < deadline:
                    c.put_with_retry(written % 4, "big-%d" % written, value)
                    written += 1
                c.wait_for(lambda: not c.running(4), 30, "replica 4 to stop")
                log = c.run_log(4)
                self.assertEqual(c.exit_code(4), EX_IOERR,
                                 "replica 4 should exit with EX_IOERR after %d writes; its log ends:\n%s"
                                 % (written, log[-3000:]))
                self.assertIn("storage failure, stopping this replica", log)
                self.assertRegex(log, r"(?i)no space left|IO error")

                # Four of five replicas are still a quorum: writes and reads go on.
                c.put_with_retry(0, "after-full-disk", "still here")
                self.assertEqual(c.get_with_retry(1, "after-full-disk"), "still here")
            finally:
                c.stop()
                subprocess.run(["umount", "-l", disk], capture_output=True)


if __name__ == "__main__":
    unittest.main()
