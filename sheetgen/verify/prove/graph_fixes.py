"""The smallest edit of a cell's formula that is no changed reference, for a network read from its formulas.

graph_check.py tries one changed reference first (another unit's activation, the wrong weight, η of
another cell). A mistake of another kind, an update's sign, a wrong number (2 for 1 in a derivative,
a mean over N samples divided by N + 1), an operator, a lost factor or a parenthesis, is found here by
fixes.py's own mutations of the formula: each reference becomes a named quantity for the search (named
for the report: w5, a_h1_s2, or the cell's address), each mutated tree is turned back into the cell's
formula and handed to the caller's test (does the failing update, or the cell itself, come out right
at random points?). References are left alone: that search is graph_check's.
"""

from __future__ import annotations

from sheetgen.core import formula
from sheetgen.verify.prove.fixes import Search
from sheetgen.verify.read.cell_graph import CellGraph, Key, where

MAX_TRIES = 400  # each try compiles and evaluates the cell and everything up to the failing one


class _NoWorld:
    values: dict = {}


class _Reader:
    def world(self, first: bool):
        return _NoWorld()


class _Prover:
    """What fixes.Search asks of a prover: here the caller's test of a formula edited in one cell."""

    def __init__(self, back, sheet: str, test):
        self.reader = _Reader()
        self.back, self.sheet, self.test = back, sheet, test

    def holds(self, tree, key: str, first: bool) -> bool:
        edited = self.back(tree)
        try:
            compiled = formula.compile_tree(edited, self.sheet)
        except formula.Unsupported:
            return False
        return bool(self.test(compiled, edited))


class _Edits(Search):
    """fixes.Search without its swaps of one quantity for another (graph_check tries references)."""

    def run(self) -> str | None:
        if self.proves(self.tree):
            return None
        for generate in (self.sign, self.other_number, self.operator, self.factor, self.parenthesis):
            for description, candidate in generate():
                if self.tries > self.max_tries:
                    return None
                if self.proves(candidate):
                    self.found = candidate
                    return description
        return None


def smallest_edit(graph: CellGraph, key: Key, quantity: str | None, name_of, test):
    """(words, the edited formula compiled, its tree) of the first edit of `key`'s formula, no reference
    changed, that passes `test(compiled, tree)`; None when there is none. `name_of(cell)` names a cell the
    formula reads (None: its address); `quantity` is what the cell holds (w5 after update 2), which
    words an update's sign."""
    tree = graph.trees.get(key)
    if tree is None:
        return None
    names: dict[str, formula.Ref] = {}

    def forward(node):
        if not isinstance(node, formula.Ref):
            return None
        cell = graph.resolve(formula.ref_key(node, key[0]))
        name = name_of(cell) or where(cell)
        while name in names and names[name] != node:
            name += "′"
        names[name] = node
        return formula.Var(name)

    def back(edited):
        return formula.transform(edited, lambda n: names.get(n.name) if isinstance(n, formula.Var) else None)

    named = formula.transform(tree, forward)
    search = _Edits(_Prover(back, key[0], test), named, quantity or "", False, max_tries=MAX_TRIES)
    words = search.run()
    if words is None:
        return None
    edited = back(search.found)
    return words, formula.compile_tree(edited, key[0]), edited
