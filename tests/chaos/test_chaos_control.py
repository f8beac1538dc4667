"""Negative controls: the chaos runner's checkers flag a history broken on purpose.

Short runs of the real cluster (no faults: the controls alone must be caught).
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_chaos  # noqa: E402


def run(control, seed):
    args = run_chaos.parse_args(["--seeds", str(seed), "--duration", "12", "--kinds", "pause",
                                 "--progress-bound-s", "60", "--control", control])
    args.kinds = []  # no faults
    [result] = run_chaos.run_all(args)
    shutil.rmtree(result.log_dir, ignore_errors=True)  # kept by the runner because the run failed
    return result


class NoFaults(unittest.TestCase):
    def test_schedule_without_kinds_is_empty_and_schedules_are_reproducible(self):
        self.assertEqual(run_chaos.make_schedule(3, 60, []), [])
        a = [f.describe() for f in run_chaos.make_schedule(3, 60)]
        self.assertEqual(a, [f.describe() for f in run_chaos.make_schedule(3, 60)])
        self.assertNotEqual(a, [f.describe() for f in run_chaos.make_schedule(4, 60)])
        # One fault at a time: each ends before the next starts.
        faults = run_chaos.make_schedule(3, 600)
        for x, y in zip(faults, faults[1:]):
            self.assertLess(x.start_s + x.duration_s, y.start_s)


class FaultsTakeEffect(unittest.TestCase):
    """The proxy's faults really cut the replica off (else every run would pass vacuously)."""

    @unittest.skipUnless(run_chaos.DISK_FAULT_LIB, "the failing disk is not built (a sanitizer build)")
    def test_a_failed_disk_stops_the_replica_and_it_rejoins_once_mended(self):
        c = run_chaos.ChaosCluster(fake_clock=False, disk_faults=True)
        proxy = run_chaos.Proxy(c.base, 1)
        try:
            c.start()
            self.assertEqual(c.put(0, "a", "1").status, 200)
            c.fail_disk(3, True)
            # The next batch needs a synced write at replica 3 too.
            self.assertEqual(c.put(1, "b", "2").status, 200)
            self.assertEqual(c.wait_exit(3, 15), run_chaos.EXIT_STORAGE_FAILED)
            self.assertIn("storage failure", c.run_log(3))
            for n in range(3):
                self.assertEqual(c.put(n % 3, "c%d" % n, "x").status, 200, "f = 1: the others go on")
            c.fail_disk(3, False)
            c.start_replica(3)
            c.wait_healthy(3, timeout=30)
            c.wait_for(lambda: c.state(3)["last_applied"] == c.state(0)["last_applied"], 30,
                       "replica 3 to catch up")
            self.assertEqual(c.get_local(3, "c2").json()["value"], "x")
        finally:
            proxy.stop()
            c.close()
            c.dir.cleanup()

    def test_isolate_and_blackhole_cut_the_replica_off_and_heal(self):
        c = run_chaos.ChaosCluster(fake_clock=False)
        proxy = run_chaos.Proxy(c.base, 1)
        try:
            c.start()
            self.assertEqual(c.put(0, "a", "1").status, 200)
            for link in proxy.around(3):
                link.set("drop")
            c.wait_for(lambda: c.state(3)["connected_peers"] == 0, 30, "replica 3 to lose its links")
            for i in range(3):
                c.wait_for(lambda: c.state(i)["connected_peers"] == 2, 30, "replica %d to lose replica 3" % i)
            proxy.heal()
            c.wait_for(lambda: all(c.state(i)["connected_peers"] == 3 for i in range(4)), 30, "links to come back")
            # Blackhole: the links stay up but replica 3 executes nothing more.
            c.wait_for(lambda: c.state(3)["last_applied"] == c.state(0)["last_applied"], 30, "replica 3 to catch up")
            for link in proxy.around(3):
                link.set("blackhole")
            before = c.state(3)["last_applied"]
            for n in range(5):
                self.assertEqual(c.put(n % 3, "b%d" % n, "x").status, 200)
            self.assertEqual(c.state(3)["connected_peers"], 3)
            self.assertEqual(c.state(3)["last_applied"], before)
            self.assertIsNone(c.get_local(3, "b4").json()["value"])
            proxy.heal()
            c.wait_for(lambda: c.get_local(3, "b4").json()["value"] == "x", 60, "replica 3 to catch up after the heal")
        finally:
            c.close()
            proxy.stop()
            c.dir.cleanup()


class Controls(unittest.TestCase):
    def test_stale_read_is_flagged_as_not_linearizable(self):
        r = run("stale-read", 101)
        self.assertGreater(r.control_injected, 0, "the control client never reported a stale read")
        self.assertIs(r.linearizable, False)
        self.assertTrue(any("not linearizable" in v for v in r.violations), r.violations)

    def test_write_unknown_to_the_history_is_flagged_as_lost_and_not_linearizable(self):
        r = run("unrecorded-write", 102)
        self.assertEqual(r.control_injected, 1)
        self.assertGreaterEqual(r.lost_writes, 1)
        self.assertIs(r.linearizable, False)

    def test_f_plus_one_lying_replicas_are_flagged(self):
        r = run("f1-byzantine", 103)
        self.assertIs(r.linearizable, False)
        self.assertTrue(r.violations)


if __name__ == "__main__":
    unittest.main()
