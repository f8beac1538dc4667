"""A linearizability checker for histories of a key-value store, one register per key.

The search is Wing & Gong's, with the memoization of Lowe and of Porcupine:
the history of each key is checked on its own (a key-value store is
linearizable when every key is, since operations touch one key each), as a
doubly linked list of call and return events; the search linearizes a
pending operation whose call comes before the first return left in the
list, and backtracks when it reaches a return it cannot pass. A cache of
(set of linearized operations, register value) seen before prunes the
search.

Operations whose outcome is unknown (a timeout, a lost connection) may have
taken effect at any time after their call, or never: they are given a
return at infinity and any result. A read whose outcome is unknown says
nothing and is left out.

Python standard library only. An operation is an `Op`:

    Op(kind="put", key="k", value="v1", invoke=0.0, complete=1.0)
    Op(kind="get", key="k", result="v1", invoke=2.0, complete=3.0)   # result None: absent
    Op(kind="delete", key="k", result=True, invoke=4.0, complete=5.0)  # result: deleted (or None: unknown)
    Op(kind="cas", key="k", expected=None, value="v2", result=(True, "v2"), ...)
    Op(kind="put", key="k", value="v3", invoke=6.0, complete=None)   # unknown outcome
"""
from dataclasses import dataclass, field
from typing import Any, Optional

KINDS = ("put", "get", "delete", "cas")


@dataclass
class Op:
    kind: str
    key: str
    invoke: float
    complete: Optional[float]  # None: outcome unknown (may have taken effect after invoke, or never)
    value: Optional[str] = None  # put and cas: the value written
    expected: Optional[str] = None  # cas: the value compared with (None: absent)
    result: Any = None  # get: value read (None: absent); delete: deleted (bool); cas: (succeeded, value)
    process: Any = None  # the client that ran it (for reports only)
    id: int = -1  # set by check() when negative
    note: str = ""  # free text for reports (replica, request id)

    def known(self):
        return self.complete is not None

    def describe(self):
        if self.kind == "put":
            what = "put(%r)" % self.value
        elif self.kind == "get":
            what = "get() -> %r" % (self.result,) if self.known() else "get() -> ?"
        elif self.kind == "delete":
            what = "delete() -> %s" % ("?" if not self.known() else self.result)
        else:
            what = "cas(%r -> %r) -> %s" % (self.expected, self.value,
                                            "?" if not self.known() else (self.result,))
        end = "%.3f" % self.complete if self.known() else "never (unknown)"
        return "op %d [client %s] %s %s invoked %.3f, completed %s%s" % (
            self.id, self.process, self.key, what, self.invoke, end, (" " + self.note) if self.note else "")


# ---------------------------------------------------------------------------
# The model: one register per key; None means absent.

def step(state, op):
    """(ok, new state) for op applied to state. An unknown outcome accepts any result."""
    known = op.complete is not None
    if op.kind == "put":
        return True, op.value
    if op.kind == "get":
        return (not known or op.result == state), state
    if op.kind == "delete":
        if known and op.result is not None and op.result != (state is not None):
            return False, state
        return True, None
    if op.kind == "cas":
        succeeded = state == op.expected
        if known:
            ok_flag, seen = op.result
            if ok_flag != succeeded:
                return False, state
            if not succeeded and seen != state:
                return False, state
            if succeeded and seen is not None and seen != op.value:
                return False, state
        return True, (op.value if succeeded else state)
    raise ValueError("unknown operation kind %r" % op.kind)


# ---------------------------------------------------------------------------
# The search

class _Entry:
    __slots__ = ("op", "is_call", "time", "match", "prev", "next")

    def __init__(self, op, is_call, time):
        self.op = op
        self.is_call = is_call
        self.time = time
        self.match = None
        self.prev = None
        self.next = None


def _build_list(ops):
    events = []
    inf = float("inf")
    for op in ops:
        call = _Entry(op, True, op.invoke)
        ret = _Entry(op, False, op.complete if op.complete is not None else inf)
        call.match = ret
        events.append(call)
        events.append(ret)
    # At equal times calls come first: the two operations count as concurrent,
    # which never reports a violation that a finer clock would not.
    events.sort(key=lambda e: (e.time, 0 if e.is_call else 1))
    head = _Entry(None, False, -inf)
    prev = head
    for e in events:
        prev.next = e
        e.prev = prev
        prev = e
    return head


def _lift(call):
    call.prev.next = call.next
    call.next.prev = call.prev
    ret = call.match
    ret.prev.next = ret.next
    if ret.next is not None:
        ret.next.prev = ret.prev


def _unlift(call):
    ret = call.match
    ret.prev.next = ret
    if ret.next is not None:
        ret.next.prev = ret
    call.prev.next = call
    call.next.prev = call


@dataclass
class KeyResult:
    key: str
    ok: Optional[bool]  # None: the search ran out of budget (inconclusive)
    ops: int
    steps: int
    # On a violation: the operations of the longest linearizable prefix found,
    # in their order, and the operations that could not come next.
    best_prefix: list = field(default_factory=list)
    stuck: list = field(default_factory=list)


def check_key(key, ops, initial=None, steps_max=5_000_000):
    """Checks the history of one key (ops carry unique ids). Returns a KeyResult."""
    ops = [op for op in ops if op.known() or op.kind != "get"]
    n = len(ops)
    if n == 0:
        return KeyResult(key, True, 0, 0)
    index = {op.id: i for i, op in enumerate(ops)}
    head = _build_list(ops)
    state = initial
    linearized = 0
    calls = []  # (call entry, state before it)
    cache = set()
    steps = 0
    best_depth = -1
    best_prefix = []
    best_stuck = []
    entry = head.next
    while head.next is not None:
        steps += 1
        if steps > steps_max:
            return KeyResult(key, None, n, steps)
        if entry.is_call:
            ok, new_state = step(state, entry.op)
            if ok:
                bit = 1 << index[entry.op.id]
                memo = (linearized | bit, new_state)
                if memo not in cache:
                    cache.add(memo)
                    calls.append((entry, state))
                    state = new_state
                    linearized |= bit
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return: the operation it ends must have been linearized before it.
            if len(calls) > best_depth:
                best_depth = len(calls)
                best_prefix = [c.op for c, _ in calls]
                stuck, e = [], head.next
                while e is not None and e is not entry.next:
                    if e.is_call:
                        stuck.append(e.op)
                    e = e.next
                best_stuck = stuck
            if not calls:
                return KeyResult(key, False, n, steps, best_prefix, best_stuck)
            call, state = calls.pop()
            linearized &= ~(1 << index[call.op.id])
            _unlift(call)
            entry = call.next
    return KeyResult(key, True, n, steps)


@dataclass
class Result:
    ok: Optional[bool]  # True: linearizable; False: a key is not; None: inconclusive
    keys: dict  # key -> KeyResult
    ops: int

    def violations(self):
        return [r for r in self.keys.values() if r.ok is False]

    def inconclusive(self):
        return [r for r in self.keys.values() if r.ok is None]

    def report(self, context=6):
        """A readable account of every violation (empty when there is none)."""
        lines = []
        for r in self.violations():
            lines.append("key %r is not linearizable (%d operations)" % (r.key, r.ops))
            lines.append("  the longest linearizable prefix found ends with:")
            for op in r.best_prefix[-context:]:
                lines.append("    " + op.describe())
            lines.append("  and none of these can come next:")
            for op in r.stuck[:context * 2]:
                lines.append("    " + op.describe())
        for r in self.inconclusive():
            lines.append("key %r: search stopped after %d steps (inconclusive)" % (r.key, r.steps))
        return "\n".join(lines)


def check(history, initial=None, steps_max=5_000_000):
    """Checks a whole history (a list of Op), key by key. initial: {key: value}
    before the history began (absent keys: None)."""
    initial = initial or {}
    by_key = {}
    for n, op in enumerate(history):
        if op.kind not in KINDS:
            raise ValueError("unknown operation kind %r" % op.kind)
        if op.id < 0:
            op.id = n
        if op.complete is not None and op.complete < op.invoke:
            raise ValueError("operation %d completes before it is invoked" % op.id)
        by_key.setdefault(op.key, []).append(op)
    results = {key: check_key(key, ops, initial.get(key), steps_max) for key, ops in sorted(by_key.items())}
    if any(r.ok is False for r in results.values()):
        ok = False
    elif any(r.ok is None for r in results.values()):
        ok = None
    else:
        ok = True
    return Result(ok, results, len(history))
