"""The linearizability checker against histories whose answer is known."""
import random
import unittest

from linearizability import Op, check, check_key


def put(key, value, t0, t1, p=0):
    return Op("put", key, t0, t1, value=value, process=p)


def get(key, result, t0, t1, p=0):
    return Op("get", key, t0, t1, result=result, process=p)


def delete(key, result, t0, t1, p=0):
    return Op("delete", key, t0, t1, result=result, process=p)


def cas(key, expected, value, result, t0, t1, p=0):
    return Op("cas", key, t0, t1, expected=expected, value=value, result=result, process=p)


class Sequential(unittest.TestCase):
    def test_empty_history_is_linearizable(self):
        self.assertTrue(check([]).ok)

    def test_put_then_get(self):
        self.assertTrue(check([put("k", "a", 0, 1), get("k", "a", 2, 3)]).ok)

    def test_read_of_absent_key(self):
        self.assertTrue(check([get("k", None, 0, 1)]).ok)

    def test_initial_state_is_used(self):
        self.assertTrue(check([get("k", "x", 0, 1)], initial={"k": "x"}).ok)
        self.assertFalse(check([get("k", None, 0, 1)], initial={"k": "x"}).ok)

    def test_stale_read_is_flagged(self):
        h = [put("k", "a", 0, 1), put("k", "b", 2, 3), get("k", "a", 4, 5)]
        r = check(h)
        self.assertFalse(r.ok)
        self.assertEqual([v.key for v in r.violations()], ["k"])
        self.assertIn("key 'k' is not linearizable", r.report())

    def test_lost_write_is_flagged(self):
        # The write was acknowledged, then a later read sees the key absent.
        h = [put("k", "a", 0, 1), get("k", None, 2, 3)]
        self.assertFalse(check(h).ok)

    def test_read_of_never_written_value_is_flagged(self):
        h = [put("k", "a", 0, 1), get("k", "zzz", 2, 3)]
        self.assertFalse(check(h).ok)

    def test_read_before_write_began_is_flagged(self):
        # A read that completed before the write was invoked cannot see it.
        h = [get("k", "a", 0, 1), put("k", "a", 2, 3)]
        self.assertFalse(check(h).ok)

    def test_delete(self):
        self.assertTrue(check([put("k", "a", 0, 1), delete("k", True, 2, 3), get("k", None, 4, 5)]).ok)
        self.assertTrue(check([delete("k", False, 0, 1)]).ok)
        # Deleted twice, reported as deleted twice: the second found nothing.
        self.assertFalse(check([put("k", "a", 0, 1), delete("k", True, 2, 3), delete("k", True, 4, 5)]).ok)
        # A read after the delete completed still sees the value.
        self.assertFalse(check([put("k", "a", 0, 1), delete("k", True, 2, 3), get("k", "a", 4, 5)]).ok)

    def test_cas(self):
        h = [cas("k", None, "a", (True, "a"), 0, 1), cas("k", None, "b", (False, "a"), 2, 3),
             cas("k", "a", "c", (True, "c"), 4, 5), get("k", "c", 6, 7)]
        self.assertTrue(check(h).ok)
        # Both cas from absent succeeded one after the other: impossible.
        self.assertFalse(check([cas("k", None, "a", (True, "a"), 0, 1), cas("k", None, "b", (True, "b"), 2, 3)]).ok)
        # A failed cas must report the current value.
        self.assertFalse(check([put("k", "a", 0, 1), cas("k", "x", "y", (False, "b"), 2, 3)]).ok)

    def test_keys_are_independent(self):
        h = [put("a", "1", 0, 1), put("b", "2", 0, 1), get("a", "1", 2, 3), get("b", "1", 2, 3)]
        r = check(h)
        self.assertFalse(r.ok)
        self.assertEqual([v.key for v in r.violations()], ["b"])
        self.assertTrue(r.keys["a"].ok)


class Concurrent(unittest.TestCase):
    def test_read_concurrent_with_write_may_see_either(self):
        for seen in ("a", "b"):
            h = [put("k", "a", 0, 1), put("k", "b", 2, 6), get("k", seen, 3, 5)]
            self.assertTrue(check(h).ok, seen)

    def test_read_overlapping_write_start_sees_old_or_new(self):
        h = [put("k", "a", 0, 1), get("k", None, 0.5, 2)]
        self.assertTrue(check(h).ok)

    def test_two_reads_may_not_disagree_on_order(self):
        # Writes a and b concurrent; reader 1 sees b then a, reader 2 sees a then b:
        # no single order of the writes explains both.
        h = [put("k", "a", 0, 10, p=1), put("k", "b", 0, 10, p=2),
             get("k", "b", 1, 2, p=3), get("k", "a", 3, 4, p=3),
             get("k", "a", 1, 2, p=4), get("k", "b", 3, 4, p=4)]
        self.assertFalse(check(h).ok)

    def test_new_old_inversion_is_flagged(self):
        # One reader sees the new value, a later (non-overlapping) reader the old one.
        h = [put("k", "a", 0, 1), put("k", "b", 2, 10), get("k", "b", 3, 4), get("k", "a", 5, 6)]
        self.assertFalse(check(h).ok)

    def test_concurrent_writes_either_order(self):
        for last in ("a", "b"):
            h = [put("k", "a", 0, 3, p=1), put("k", "b", 1, 4, p=2), get("k", last, 5, 6)]
            self.assertTrue(check(h).ok)

    def test_equal_times_count_as_concurrent(self):
        h = [put("k", "a", 0, 1), get("k", "a", 1, 2)]
        self.assertTrue(check(h).ok)
        h = [get("k", "a", 0, 1), put("k", "a", 1, 2)]
        self.assertTrue(check(h).ok)


class UnknownOutcome(unittest.TestCase):
    def test_unknown_write_may_take_effect_late(self):
        h = [put("k", "a", 0, 1), put("k", "b", 2, None), get("k", "a", 3, 4), get("k", "b", 100, 101)]
        self.assertTrue(check(h).ok)

    def test_unknown_write_may_never_take_effect(self):
        h = [put("k", "a", 0, 1), put("k", "b", 2, None), get("k", "a", 100, 101)]
        self.assertTrue(check(h).ok)

    def test_unknown_write_cannot_take_effect_before_its_call(self):
        h = [put("k", "a", 0, 1), get("k", "b", 2, 3), put("k", "b", 4, None)]
        self.assertFalse(check(h).ok)

    def test_unknown_write_takes_effect_once(self):
        # b (unknown) is seen, then overwritten by c, then seen again: b cannot apply twice.
        h = [put("k", "b", 0, None), get("k", "b", 1, 2), put("k", "c", 3, 4), get("k", "b", 5, 6)]
        self.assertFalse(check(h).ok)

    def test_unknown_read_is_ignored(self):
        h = [put("k", "a", 0, 1), Op("get", "k", 2, None, result="garbage")]
        self.assertTrue(check(h).ok)

    def test_unknown_delete_and_cas(self):
        h = [put("k", "a", 0, 1), Op("delete", "k", 2, None), get("k", None, 5, 6)]
        self.assertTrue(check(h).ok)
        h = [put("k", "a", 0, 1), Op("cas", "k", 2, None, expected="a", value="z"), get("k", "z", 5, 6)]
        self.assertTrue(check(h).ok)
        # The cas could only succeed from "a"; the key held "q".
        h = [put("k", "q", 0, 1), Op("cas", "k", 2, None, expected="a", value="z"), get("k", "z", 5, 6)]
        self.assertFalse(check(h).ok)

    def test_acknowledged_write_lost_despite_unknown_ops(self):
        h = [put("k", "a", 0, 1), put("k", "x", 0.5, None), put("k", "b", 2, 3), get("k", "a", 10, 11)]
        self.assertFalse(check(h).ok)


class Report(unittest.TestCase):
    def test_report_names_the_operations(self):
        h = [put("k", "a", 0, 1, p=7), put("k", "b", 2, 3, p=7), get("k", "a", 4, 5, p=8)]
        r = check(h)
        text = r.report()
        self.assertIn("get() -> 'a'", text)
        self.assertIn("[client 8]", text)

    def test_budget_makes_the_result_inconclusive(self):
        h = [put("k", str(i), 0, 100, p=i) for i in range(12)] + [get("k", "nope", 101, 102)]
        r = check(h, steps_max=50)
        self.assertIsNone(r.ok)
        self.assertEqual(len(r.inconclusive()), 1)


def brute_force(ops, initial=None):
    """Linearizable by trying every order (tiny histories only)."""
    import itertools
    from linearizability import step
    ops = [op for op in ops if op.known() or op.kind != "get"]
    inf = float("inf")
    for perm in itertools.permutations(ops):
        # The order must respect real time: nothing may come after an op that started after it completed.
        if any((perm[j].complete if perm[j].complete is not None else inf) < perm[i].invoke
               for i in range(len(perm)) for j in range(i + 1, len(perm))):
            continue
        state, ok = initial, True
        for op in perm:
            ok, state = step(state, op)
            if not ok:
                break
        if ok:
            return True
        # An unknown op may also never take effect: covered by placing it last.
    return False


class AgainstBruteForce(unittest.TestCase):
    def test_random_small_histories(self):
        rng = random.Random(12345)
        flagged = 0
        for trial in range(400):
            ops = []
            values = ["a", "b", "c", None]
            for n in range(rng.randint(1, 6)):
                t0 = rng.randint(0, 10)
                t1 = None if rng.random() < 0.15 else t0 + rng.randint(0, 5)
                kind = rng.choice(["put", "get", "get", "delete", "cas"])
                if kind == "put":
                    ops.append(Op("put", "k", t0, t1, value=rng.choice("abc")))
                elif kind == "get":
                    ops.append(Op("get", "k", t0, t1, result=rng.choice(values)))
                elif kind == "delete":
                    ops.append(Op("delete", "k", t0, t1, result=rng.choice([True, False])))
                else:
                    ok = rng.random() < 0.5
                    v = rng.choice("abc")
                    ops.append(Op("cas", "k", t0, t1, expected=rng.choice(values), value=v,
                                  result=(ok, v if ok else rng.choice(values))))
            for i, op in enumerate(ops):
                op.id = i
            want = brute_force(ops)
            got = check_key("k", ops).ok
            self.assertEqual(got, want, "trial %d: %s" % (trial, [op.describe() for op in ops]))
            flagged += not want
        # The random histories include both answers.
        self.assertGreater(flagged, 50)
        self.assertLess(flagged, 380)


class Scale(unittest.TestCase):
    def test_long_concurrent_history_checks_quickly(self):
        # Five clients, overlapping ops on one register, a legal history made by
        # simulating a register with random linearization points.
        rng = random.Random(7)
        ops, state, t = [], None, 0.0
        for n in range(3000):
            t += rng.random()
            lin = t + rng.random() * 2
            kind = rng.choice(["put", "get", "get", "delete"])
            op = Op(kind, "k", t, lin + rng.random() * 2, process=n % 5)
            if kind == "put":
                op.value = "v%d" % n
            ops.append((lin, op))
        for lin, op in sorted(ops, key=lambda x: x[0]):
            if op.kind == "put":
                state = op.value
            elif op.kind == "get":
                op.result = state
            else:
                op.result = state is not None
                state = None
        history = [op for _, op in ops]
        self.assertTrue(check(history).ok)
        # Corrupt one read in the middle to a value written much later: flagged.
        reads = [op for op in history if op.kind == "get" and op.result is not None]
        bad = reads[len(reads) // 2]
        bad.result = "v2999"
        self.assertFalse(check(history).ok)


if __name__ == "__main__":
    unittest.main()
