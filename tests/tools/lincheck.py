#!/usr/bin/env python3
"""Linearizability checker for state store histories.

Input: a history file, one JSON object per line, one line per operation:

  {"p": 3, "f": "set", "k": "k1", "v": "c3-17", "start": 1234, "end": 1301, "out": "ok"}

  p      the process (client) that ran it; a process runs one operation at a time
  f      set | setnx | get | del | vdel
  k      the key
  v      set/setnx/vdel: the value argument
  start  invocation time, end: completion time (any integer clock, e.g. ns)
  out    the observed result, or null when the outcome is unknown (timeout,
         lost connection, server killed): such an operation may or may not
         have taken effect, at any moment after its start.
           set:   "ok"
           setnx: "ok" (set) | "no" (key existed, nothing changed)
           get:   the value, or null for a missing key ("out" absent or
                  null together with "unknown": true means unknown)
           del:   1 (deleted) | 0 (absent)
           vdel:  1 (value matched, deleted) | 0 (absent) | -1 (other value)
  unknown  true: the outcome is unknown (then "out" is ignored)

The model is one register per key (absent, or present with a value), which
is exactly the state store's keyspace for these commands; versions are not
modelled (values are unique per write, so reads identify writes).
Linearizability is local (Herlihy & Wing), so every key is checked on its
own. The search is Wing & Gong's, with Lowe's memoisation of (set of
linearized operations, state), as in Porcupine and Knossos.

Exit status: 0 linearizable, 1 not (the key and a description of where the
search got stuck are printed), 2 bad input.
"""
import json
import sys

ABSENT = ("absent",)


def step(state, op):
    """Apply op to state: (accepted, new state). Unknown outcomes accept any
    output; the effect is the one the command has in that state."""
    f, v, out, unknown = op["f"], op.get("v"), op.get("out"), op.get("unknown", False)
    present = state is not ABSENT
    if f == "set":
        return (unknown or out == "ok"), v
    if f == "setnx":
        if present:
            return (unknown or out == "no"), state
        return (unknown or out == "ok"), v
    if f == "get":
        want = state if present else None
        return (unknown or out == want), state
    if f == "del":
        if present:
            return (unknown or out == 1), ABSENT
        return (unknown or out == 0), state
    if f == "vdel":
        if not present:
            return (unknown or out == 0), state
        if state == v:
            return (unknown or out == 1), ABSENT
        return (unknown or out == -1), state
    raise ValueError("unknown operation %r" % f)


class Entry:
    __slots__ = ("op", "id", "is_call", "match", "prev", "next", "t")

    def __init__(self, op, oid, is_call, t):
        self.op, self.id, self.is_call, self.t = op, oid, is_call, t
        self.match = self.prev = self.next = None


def build_list(ops):
    """Doubly linked list of call and return entries in time order; a
    return at the same time as a call comes first (they do not overlap)."""
    INF = float("inf")
    events = []
    for i, op in enumerate(ops):
        c = Entry(op, i, True, op["start"])
        end = INF if op.get("unknown") else op["end"]
        r = Entry(op, i, False, end)
        c.match = r
        events.append((op["start"], 1, i, c))
        events.append((end, 0, i, r))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = Entry(None, -1, False, -1)  # sentinel
    prev = head
    for _, _, _, e in events:
        prev.next = e
        e.prev = prev
        prev = e
    return head


def lift(e):
    e.prev.next = e.next
    if e.next:
        e.next.prev = e.prev
    m = e.match
    m.prev.next = m.next
    if m.next:
        m.next.prev = m.prev


def unlift(e):
    m = e.match
    m.prev.next = m
    if m.next:
        m.next.prev = m
    e.prev.next = e
    if e.next:
        e.next.prev = e


def check_key(ops, initial=ABSENT):
    """True if the operations on one key are linearizable from `initial`;
    else (False, the furthest set of operations the search linearized)."""
    head = build_list(ops)
    state = initial
    linearized = 0  # bitset of op ids
    cache = set()
    stack = []
    best = 0
    e = head.next
    while head.next is not None:
        if e.is_call:
            ok, new_state = step(state, e.op)
            if ok:
                lin2 = linearized | (1 << e.id)
                key = (lin2, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((e, state))
                    state, linearized = new_state, lin2
                    if bin(linearized).count("1") > bin(best).count("1"):
                        best = linearized
                    lift(e)
                    e = head.next
                    continue
            e = e.next
        else:
            if not stack:
                return False, best
            e, state = stack.pop()
            linearized &= ~(1 << e.id)
            unlift(e)
            e = e.next
    return True, None


def load(path):
    ops = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                op = json.loads(line)
                for field in ("p", "f", "k", "start"):
                    if field not in op:
                        raise ValueError("missing %r" % field)
                if not op.get("unknown") and "end" not in op:
                    raise ValueError("missing 'end' on an operation with a known outcome")
                if not op.get("unknown") and op["end"] < op["start"]:
                    raise ValueError("ends before it starts")
            except ValueError as err:
                print("%s:%d: %s" % (path, n, err), file=sys.stderr)
                sys.exit(2)
            ops.append(op)
    return ops


def describe(ops, best):
    done = [ops[i] for i in range(len(ops)) if best >> i & 1]
    rest = [op for i, op in enumerate(ops) if not best >> i & 1]
    rest.sort(key=lambda op: op["start"])
    lines = ["  linearized %d of %d operations; the first ones left:" % (len(done), len(ops))]
    for op in rest[:8]:
        lines.append("    " + json.dumps(op, sort_keys=True))
    return "\n".join(lines)


def main(argv):
    if len(argv) != 2:
        print("usage: lincheck.py HISTORY.jsonl", file=sys.stderr)
        return 2
    ops = load(argv[1])
    by_key = {}
    for op in ops:
        by_key.setdefault(op["k"], []).append(op)
    bad = 0
    for k in sorted(by_key):
        ok, best = check_key(by_key[k])
        if not ok:
            bad += 1
            print("key %r: NOT linearizable (%d operations)" % (k, len(by_key[k])))
            print(describe(by_key[k], best))
    total = len(ops)
    unknown = sum(1 for op in ops if op.get("unknown"))
    if bad:
        print("history %s: %d of %d keys not linearizable" % (argv[1], bad, len(by_key)))
        return 1
    print("history %s: linearizable (%d operations, %d with unknown outcome, %d keys)" % (argv[1], total, unknown, len(by_key)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
