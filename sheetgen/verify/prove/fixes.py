"""The smallest edit that makes a wrong formula right, found by proving one-edit mutations.

A wrong form (a formula with its references read as quantities, see proof.py) is changed in one
way at a time, and each change is proven at the random worlds like the formula itself. The first
change that proves names the mistake, in words:
  * one quantity read in place of another (a_h2 for a_h1, w6 for w7, t1 for t2, h2 for a_h2),
    or a quantity read from the wrong row; or two weights at once (the output weights transposed);
  * a number typed where a quantity belongs; a wrong number (2 for 1, N + 1 for N);
  * a sign: a subexpression negated, the operands of a subtraction swapped, + for −;
  * an operator: a_o1·t1 where (a_o1 − t1) belongs;
  * a missing factor (a quantity, or q·(1−q)), an extra factor;
  * a misplaced parenthesis; a missing or extra ½.
Candidates are ordered so that the likeliest reading comes first (a quantity of the same family
and row before others), and the search stops at the first proven one.
"""

from __future__ import annotations

import itertools
import re

from sheetgen.core import formula
from sheetgen.core.formula import Binary, Call, Num, Unary, Var
from sheetgen.verify.prove.forms import label_of
from sheetgen.verify.prove.proof import Prover
from sheetgen.verify.prove.worlds import ETA, split_var

MAX_TRIES = 2500


def _family(name: str) -> str:
    """a_h1 -> a_h, w7 -> w, t2 -> t: quantities easily confused share it."""
    parts = split_var(name)
    key = parts[0] if parts else name
    return re.sub(r"\d+", "#", key)


def _offset(name: str) -> int | None:
    parts = split_var(name)
    return parts[1] if parts else None


def _where(offset: int) -> str:
    return {-1: "the row above", 1: "the row below", 0: "its own row"}.get(offset, f"row {offset:+d}")


def _replace(tree, old: dict):
    return formula.transform(
        tree, lambda n: Var(old[n.name]) if isinstance(n, Var) and n.name in old else None
    )


def _subtrees(tree):
    """(path, node) for every node; a path is the list of child positions from the root."""
    stack = [((), tree)]
    while stack:
        path, node = stack.pop()
        yield path, node
        for i, child in enumerate(formula.children(node)):
            stack.append(((*path, i), child))


def _put(tree, path, new):
    if not path:
        return new
    kids = list(formula.children(tree))
    kids[path[0]] = _put(kids[path[0]], path[1:], new)
    return formula.rebuild(tree, tuple(kids))


class Search:
    def __init__(self, prover: Prover, tree, key: str, first: bool, table=None, max_tries: int = MAX_TRIES):
        self.prover, self.tree, self.key, self.first, self.table = prover, tree, key, first, table
        self.max_tries = max_tries
        own = f"{key}@0"  # reading its own quantity would be a circular reference, never a fix
        self.names = [
            n
            for n in prover.reader.world(first).values
            if (_offset(n) in (-1, 0, 1) or "@" not in n) and n != own
        ]
        self.tries = 0

    def show(self, node) -> str:
        """A subexpression as the report prints it: quantities by their labels, a·b, a − b."""
        text = formula.to_text(
            node, lambda n: f"\0{label_of(n.name, self.table)}\0" if isinstance(n, Var) else None
        )
        parts = text.split("\0")  # labels (odd parts) keep their own characters
        for i in range(0, len(parts), 2):
            parts[i] = parts[i].replace("*", "·").replace("+", " + ").replace("-", " − ")
        shown = "".join(parts).replace("( − ", "(−")
        return shown[3:] if shown.startswith(" − ") else shown

    def bracketed(self, node) -> str:
        shown = self.show(node)
        return f"({shown})" if isinstance(node, Binary) and node.op in "+-" else shown

    def label(self, name: str) -> str:
        return label_of(name, self.table)

    def proves(self, tree) -> bool:
        self.tries += 1
        return self.prover.holds(tree, self.key, self.first)

    def run(self) -> str | None:
        if self.proves(self.tree):
            return None  # the formula is right: a wrong value has another cause
        for generate in (
            self.one_related_quantity,
            self.number_for_quantity,
            self.sign,
            self.operator,
            self.factor,
            self.parenthesis,
            self.two_weights,
            self.other_number,
            self.one_other_quantity,
        ):
            for description, candidate in generate():
                if self.tries > self.max_tries:
                    return None
                if self.proves(candidate):
                    return description
        return None

    # --- the mutations ------------------------------------------------------------------------

    def _ranked(self, used: str) -> list[str]:
        family, offset = _family(used), _offset(used)

        def rank(name: str) -> tuple:
            return (
                _family(name) != family,
                _offset(name) != offset,
                name.startswith(("param:", "cell:")),
                name,
            )

        return sorted((n for n in self.names if n != used), key=rank)

    def _swaps(self, related: bool):
        """One quantity for another: `related` ones (the same family: a_h1/a_h2, w6/w7, t1/t2, or the
        same quantity of another row) are tried before every other mutation, the rest last."""
        used = sorted({n.name for n in formula.walk(self.tree) if isinstance(n, Var)})
        pairs = [
            (name, other)
            for name in used
            for other in self._ranked(name)
            if (_family(other) == _family(name)) == related
        ]
        pairs.sort(key=lambda p: _offset(p[1]) != _offset(p[0]))  # the same row first
        for name, other in pairs:
            yield self._describe_swap(name, other), _replace(self.tree, {name: other})
        # A quantity read twice may be wrong in one place only (E1+E1 for E1+E2).
        places = [(path, node.name) for path, node in _subtrees(self.tree) if isinstance(node, Var)]
        repeated = {name for _, name in places if sum(n == name for _, n in places) > 1}
        for path, name in places:
            if name in repeated:
                for used, other in pairs:
                    if used == name:
                        yield self._describe_swap(name, other), _put(self.tree, path, Var(other))

    def one_related_quantity(self):
        return self._swaps(related=True)

    def one_other_quantity(self):
        return self._swaps(related=False)

    def _describe_swap(self, used: str, right: str) -> str:
        """`used` is what the formula reads, `right` what belongs there."""
        a, b = split_var(used), split_var(right)
        if a and b and a[0] == b[0] and a[1] != b[1]:
            return f"reads {self.label(a[0] + '@0')} from {_where(a[1])} instead of {_where(b[1])}"
        if self._as_derivative(used):
            wrong, meant = self.label(used), self.label(right)
            return f"uses {wrong}·(1−{wrong}) in place of {meant}·(1−{meant})"
        return f"uses {self.label(used)} in place of {self.label(right)}"

    def _as_derivative(self, name: str) -> bool:
        """Whether the quantity appears as q·(1−q) in the formula (a sigmoid's derivative)."""
        for node in formula.walk(self.tree):
            if (
                isinstance(node, Binary)
                and node.op == "-"
                and node.left == Num(1.0)
                and node.right == Var(name)
                and self.key.startswith("dE_d")
            ):
                return True
        return False

    def number_for_quantity(self):
        for path, node in _subtrees(self.tree):
            if isinstance(node, Num):
                for name in self.names:
                    if _offset(name) in (0, None) or name == ETA:
                        yield (
                            f"uses the number {formula.to_text(node)} where {self.label(name)} belongs",
                            _put(self.tree, path, Var(name)),
                        )

    def other_number(self):
        """A number typed wrong: 2 for 1 in a derivative, a mean over N samples divided by N + 1, ¼ for ½.
        Tried before the swaps with unrelated quantities, which are many in a long formula."""
        for path, node in _subtrees(self.tree):
            if isinstance(node, Num):
                v = node.value
                # The nearest numbers first: ¼ typed for ½ is ½'s mistake before it is 1's.
                others = dict.fromkeys((1.0, 0.5, 2.0, 0.0, v + 1, v - 1, 2 * v, v / 2, -v))
                for other in sorted(others, key=lambda o, v=v: abs(o - v)):
                    if other != v:
                        shown = formula.to_text(Num(other))
                        yield (
                            f"uses the number {formula.to_text(node)} where {shown} belongs",
                            _put(self.tree, path, Num(other)),
                        )

    def sign(self):
        if isinstance(self.tree, Binary) and self.tree.op in "+-" and self.key.startswith(("w", "new_")):
            flipped = "+" if self.tree.op == "-" else "-"
            yield (
                f"adds {self.show(self.tree.right)} instead of subtracting it (update with the wrong sign)"
                if self.tree.op == "+"
                else f"subtracts {self.show(self.tree.right)} where it should add it",
                Binary(flipped, self.tree.left, self.tree.right),
            )
        for path, node in _subtrees(self.tree):
            if isinstance(node, Binary) and node.op == "-":
                reversed_ = Binary("-", node.right, node.left)
                yield (
                    f"computes {self.show(node)} where {self.show(reversed_)} belongs "
                    "(the subtraction reversed)",
                    _put(self.tree, path, reversed_),
                )
        for path, node in _subtrees(self.tree):
            if isinstance(node, Unary) and node.op == "-":
                inside_exp = self._inside_exp(path)
                yield (
                    f"is missing the minus in {self.show(node)}"
                    if not inside_exp
                    else f"σ(−x) computed (the minus in EXP({self.show(node)}) missing?)",
                    _put(self.tree, path, node.operand),
                )
            elif not isinstance(node, Num):
                inside_exp = self._inside_exp(path) and isinstance(node, Var)
                description = (
                    f"is 1 − the right value: σ(−{self.show(node)}) computed "
                    f"(the minus in EXP(−{self.show(node)}) missing?)"
                    if inside_exp
                    else ("has the wrong sign" if not path else f"has the wrong sign of {self.show(node)}")
                )
                yield description, _put(self.tree, path, Unary("-", node))

    def _inside_exp(self, path) -> bool:
        node = self.tree
        for step in path:
            if isinstance(node, Call) and node.name == "EXP":
                return True
            node = formula.children(node)[step]
        return False

    def operator(self):
        for path, node in _subtrees(self.tree):
            if isinstance(node, Binary) and node.op in "+-*/":
                for op in "+-*/":
                    if op != node.op:
                        new = Binary(op, node.left, node.right)
                        a, b = self.bracketed(node.left), self.bracketed(node.right)
                        done = {"*": f"multiplies {a} by {b}", "/": f"divides {a} by {b}"}.get(
                            node.op, f"computes {self.bracketed(node)}"
                        )
                        yield f"{done} where {self.bracketed(new)} belongs", _put(self.tree, path, new)

    def factor(self):
        same_row = [n for n in self.names if _offset(n) == 0]
        for name in same_row:
            q = Var(name)
            derivative = Binary("*", q, Binary("-", Num(1.0), q))
            shown = self.label(name)
            yield f"is missing the factor {shown}·(1−{shown})", Binary("*", self.tree, derivative)
        for name in same_row:
            yield f"is missing the factor {self.label(name)}", Binary("*", self.tree, Var(name))
        for path, node in _subtrees(self.tree):
            if isinstance(node, Binary) and node.op == "*":
                for keep, drop in ((node.left, node.right), (node.right, node.left)):
                    yield f"has an extra factor {self.show(drop)}", _put(self.tree, path, keep)
        yield "is twice the right value (the ½ missing?)", Binary("*", Num(0.5), self.tree)
        yield "is half the right value (an extra ½?)", Binary("*", Num(2.0), self.tree)

    def parenthesis(self):
        for path, node in _subtrees(self.tree):
            if isinstance(node, Binary) and isinstance(node.left, Binary):
                inner = node.left
                moved = Binary(inner.op, inner.left, Binary(node.op, inner.right, node.right))
                yield (
                    f"misplaced parenthesis: {self.show(node)} where {self.show(moved)} belongs",
                    _put(self.tree, path, moved),
                )
            if isinstance(node, Binary) and isinstance(node.right, Binary):
                inner = node.right
                moved = Binary(inner.op, Binary(node.op, node.left, inner.left), inner.right)
                yield (
                    f"misplaced parenthesis: {self.show(node)} where {self.show(moved)} belongs",
                    _put(self.tree, path, moved),
                )

    def two_weights(self):
        """Two quantities of one family replaced at once (the output weights transposed), or several
        quantities of one row read from another (the weights already updated)."""
        used = sorted({n.name for n in formula.walk(self.tree) if isinstance(n, Var)})
        by_row: dict[int, list[str]] = {}
        for name in used:
            if _offset(name) not in (None, 0):
                by_row.setdefault(_offset(name), []).append(name)
        for offset, names in by_row.items():
            if len(names) > 1:
                moved = {n: n.rpartition("@")[0] + "@0" for n in names}
                shown = "/".join(self.label(n.rpartition("@")[0] + "@0") for n in names)
                what = (
                    " (the updated weights)"
                    if offset == 1
                    else " (the previous weights)"
                    if offset == -1
                    else ""
                )
                yield (
                    f"reads {shown} from {_where(offset)} instead of its own row{what}",
                    _replace(self.tree, moved),
                )
        for a, b in itertools.combinations(used, 2):
            if _family(a) != _family(b) or _offset(a) != _offset(b):
                continue
            others_a = [n for n in self._ranked(a) if _family(n) == _family(a) and _offset(n) == _offset(a)]
            others_b = [n for n in self._ranked(b) if _family(n) == _family(b) and _offset(n) == _offset(b)]
            for x, y in itertools.product(others_a, others_b):
                if x == y:
                    continue
                yield (
                    f"uses {self.label(a)}/{self.label(b)} in place of {self.label(x)}/{self.label(y)}",
                    _replace(self.tree, {a: x, b: y}),
                )


def smallest_fix(prover: Prover, tree, key: str, first: bool, table=None) -> str | None:
    """The words for the first one-edit change that makes `tree` compute `key`, or None."""
    return Search(prover, tree, key, first, table).run()
