#!/usr/bin/env python3
"""Self-test of lincheck.py: histories whose verdict is known by hand."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lincheck  # noqa: E402


def op(p, f, start, end, out=None, v=None, k="k", unknown=False):
    d = {"p": p, "f": f, "k": k, "start": start, "end": end, "out": out}
    if v is not None:
        d["v"] = v
    if unknown:
        d["unknown"] = True
    return d


def linearizable(ops):
    return lincheck.check_key(ops)[0]


class Verdicts(unittest.TestCase):
    def test_sequential(self):
        self.assertTrue(linearizable([
            op(1, "get", 0, 1, None),
            op(1, "set", 2, 3, "ok", "a"),
            op(2, "get", 4, 5, "a"),
            op(2, "del", 6, 7, 1),
            op(1, "del", 8, 9, 0),
            op(1, "get", 10, 11, None),
        ]))

    def test_stale_read_after_acknowledged_write(self):
        self.assertFalse(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(1, "set", 2, 3, "ok", "b"),
            op(2, "get", 4, 5, "a"),
        ]))

    def test_lost_acknowledged_write(self):
        self.assertFalse(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(2, "get", 2, 3, None),
        ]))

    def test_concurrent_writes_either_order(self):
        base = [op(1, "set", 0, 10, "ok", "a"), op(2, "set", 1, 9, "ok", "b")]
        self.assertTrue(linearizable(base + [op(3, "get", 11, 12, "a")]))
        self.assertTrue(linearizable(base + [op(3, "get", 11, 12, "b")]))
        # both orders at once: reads that are not concurrent disagree
        self.assertFalse(linearizable(base + [op(3, "get", 11, 12, "a"), op(3, "get", 13, 14, "b")]))

    def test_read_concurrent_with_write_may_see_either(self):
        self.assertTrue(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(2, "set", 2, 10, "ok", "b"),
            op(3, "get", 3, 4, "a"),
            op(3, "get", 5, 6, "b"),
        ]))
        # but not b then a
        self.assertFalse(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(2, "set", 2, 10, "ok", "b"),
            op(3, "get", 3, 4, "b"),
            op(3, "get", 5, 6, "a"),
        ]))

    def test_unknown_outcome_may_or_may_not_apply(self):
        seen = [op(1, "set", 0, 0, None, "a", unknown=True), op(2, "get", 5, 6, "a")]
        unseen = [op(1, "set", 0, 0, None, "a", unknown=True), op(2, "get", 5, 6, None)]
        self.assertTrue(linearizable(seen))
        self.assertTrue(linearizable(unseen))
        # once seen it cannot vanish again without a delete
        self.assertFalse(linearizable(seen + [op(2, "get", 7, 8, None)]))

    def test_setnx_exclusive(self):
        self.assertFalse(linearizable([
            op(1, "setnx", 0, 10, "ok", "a"),
            op(2, "setnx", 1, 9, "ok", "b"),
        ]))
        self.assertTrue(linearizable([
            op(1, "setnx", 0, 10, "ok", "a"),
            op(2, "setnx", 1, 9, "no", "b"),
            op(3, "get", 11, 12, "a"),
        ]))

    def test_vdel(self):
        self.assertTrue(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(2, "vdel", 2, 3, -1, "b"),
            op(2, "vdel", 4, 5, 1, "a"),
            op(2, "vdel", 6, 7, 0, "a"),
        ]))
        self.assertFalse(linearizable([
            op(1, "set", 0, 1, "ok", "a"),
            op(2, "vdel", 2, 3, 1, "b"),
        ]))

    def test_many_concurrent_ops_finish(self):
        # 12 overlapping writes and reads: the memoised search stays quick
        ops = [op(i, "set", i, 100 + i, "ok", "v%d" % i) for i in range(12)]
        ops.append(op(99, "get", 200, 201, "v11"))
        ops.append(op(98, "get", 202, 203, "v11"))
        self.assertTrue(linearizable(ops))


if __name__ == "__main__":
    unittest.main()
