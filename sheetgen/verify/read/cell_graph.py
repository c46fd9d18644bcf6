"""A workbook as a graph of cells: each formula cell, the cells it reads, and a way to compute it.

This is how verify reads a network it has no labels for: not by what a column is called but by
what its cells compute. Every formula is parsed once (core/formula.py, the one parser); a cell
whose formula is a bare reference (=B5, =Inputs!B3) is an alias of the cell it names; a cell
drawing a random number (RAND, RANDBETWEEN) is a leaf like a typed value, its recalculated value
being the start the sheet was computed from. `evaluator` compiles any cell as a function of a
chosen frontier (the leaves and whichever computed cells the caller holds fixed), so a formula
and everything it reads can be evaluated at many random points at once.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from sheetgen.core import formula
from sheetgen.core.xlsx import Book, address

Key = tuple  # (sheet, row, col)
VOLATILE = frozenset({"RAND", "RANDBETWEEN", "RANDARRAY"})
MAX_FORMULAS = (
    60_000  # a larger book is no small network drawn by hand (6 LR sheets x 100 rows of 2-3-1: 25,000)
)


def where(key: Key) -> str:
    if key[1] == 0:  # a defined name holding a number: no cell of any sheet
        return key[0]
    return f"'{key[0]}'!{address(key[1], key[2])}"


def name_key(name: str) -> Key:
    """The leaf a defined name holding a number (=0.5) is read as: row 0, a row no sheet has."""
    return (f"the defined name {name}", 0, 0)


class CellGraph:
    def __init__(self, original: Book, values: Book):
        self.order = [s.name for s in original.sheets]
        self.trees: dict[Key, object] = {}
        self.texts: dict[Key, str] = {}
        self.refs: dict[Key, tuple[Key, ...]] = {}
        self.volatile: set[Key] = set()
        self.unreadable: dict[Key, str] = {}
        self.opaque: set[Key] = set()
        self._compiled: dict[Key, object] = {}
        self._direct: dict[Key, tuple] = {}
        self._shapes: dict[Key, tuple] = {}
        self._values = values
        self._alias: dict[Key, Key] = {}
        self._constants: dict[Key, float] = {}  # a defined name's number, read as a leaf
        self._names = getattr(original, "names", {})
        count = 0
        for sheet in original.sheets:
            for row, col in list(sheet.formulas.keys()):
                count += 1
                if count > MAX_FORMULAS:
                    raise ValueError(f"more than {MAX_FORMULAS} formulas")
                key = (sheet.name, row, col)
                text = sheet.formula(row, col)
                if text is None:
                    continue
                self.texts[key] = text
                try:
                    tree, read, calls = _read_formula(text)
                    if self._names:
                        tree = formula.transform(tree, lambda n, s=sheet.name: self._defined(n, s))
                        read = tuple(formula.references(tree))
                    refs = tuple(dict.fromkeys(formula.ref_key(r, sheet.name) for r in read))
                except (formula.FormulaError, formula.Unsupported) as error:
                    self.unreadable[key] = str(error)
                    continue
                if calls & VOLATILE:
                    self.volatile.add(key)
                    continue
                if calls - set(formula.FUNCTIONS) - {"IF"}:
                    self.opaque.add(key)  # read as the value it holds (a lookup by a computed index, say)
                    continue
                if not refs:
                    continue  # a number written as a formula (=0.1): typed, as an input is
                bare = tree.operand if isinstance(tree, formula.Unary) and tree.op == "+" else tree
                if isinstance(bare, formula.Ref):
                    self._alias[key] = formula.ref_key(bare, sheet.name)
                    continue
                self.trees[key] = tree
                self.refs[key] = refs

    def _defined(self, node, sheet: str):
        """A defined name naming a cell (or a range) is that cell; one holding a number is a leaf of its
        own. Names of formulas stay names (a formula reading them is not computed here)."""
        if not isinstance(node, formula.Name):
            return None
        local = self._names.get((sheet, node.text.lower()))
        text = local or self._names.get((None, node.text.lower()))
        if text is None:
            return None
        try:
            target = formula.parse(text)
        except (formula.FormulaError, formula.Unsupported):
            return None
        if isinstance(target, formula.Ref) and target.sheet is not None:
            return target
        if isinstance(target, formula.Area) and target.first.sheet is not None:
            return target
        negative = isinstance(target, formula.Unary) and target.op == "-"
        number = target.operand if negative else target
        if isinstance(number, formula.Num):
            key = name_key(node.text if local is None else f"{sheet}!{node.text}")
            self._constants[key] = -number.value if negative else number.value
            return formula.Ref(key[0], key[1], key[2])
        return None

    # -- what a cell is --------------------------------------------------------------------------
    def resolve(self, key: Key) -> Key:
        seen = set()
        while key in self._alias and key not in seen:
            seen.add(key)
            key = self._alias[key]
        return key

    def aliases_of(self, key: Key) -> list[Key]:
        return [a for a in self._alias if self.resolve(a) == key]

    def is_computed(self, key: Key) -> bool:
        return key in self.trees

    def value(self, key: Key) -> float:
        if key in self._constants:
            return self._constants[key]
        sheet = self._values.sheet(key[0])
        found = None if sheet is None else sheet.values.get((key[1], key[2]))
        if found is None or found == "":
            return 0.0  # an empty cell reads as 0
        if isinstance(found, bool):
            return float(found)
        return found if isinstance(found, float) else math.nan

    def shown(self, key: Key):
        """What the cell shows: its number, or its error (#DIV/0!, Err:522 for a circular reference)."""
        sheet = self._values.sheet(key[0])
        found = None if sheet is None else sheet.values.get((key[1], key[2]))
        return found if isinstance(found, str) and found else self.value(key)

    def direct(self, key: Key) -> tuple[Key, ...]:
        """The cells a computed cell reads, aliases resolved."""
        found = self._direct.get(key)
        if found is None:
            found = self._direct[key] = tuple(dict.fromkeys(self.resolve(r) for r in self.refs.get(key, ())))
        return found

    def shape(self, key: Key) -> tuple:
        """The cell's formula relative to its own row (formula.shape), once per cell."""
        found = self._shapes.get(key)
        if found is None:
            found = self._shapes[key] = formula.shape(self.texts.get(key, ""), key[1], key[2])
        return found

    def consumers(self) -> dict[Key, list[Key]]:
        found: dict[Key, list[Key]] = {}
        for key in self.trees:
            for ref in self.direct(key):
                found.setdefault(ref, []).append(key)
        return found

    def label(self, key: Key) -> str | None:
        """A text naming the cell: the nearest text to its left in its row, else above in its column."""
        sheet = self._values.sheet(key[0])
        if sheet is None:
            return None
        for col in range(key[2] - 1, max(0, key[2] - 4), -1):
            text = sheet.values.get((key[1], col))
            if isinstance(text, str) and text.strip():
                return text.strip()
        for row in range(key[1] - 1, 0, -1):
            text = sheet.values.get((row, key[2]))
            if isinstance(text, str) and text.strip():
                return text.strip()
        return None

    # -- computing -------------------------------------------------------------------------------
    def compiled(self, key: Key):
        if key not in self._compiled:
            self._compiled[key] = formula.compile_tree(self.trees[key], key[0])
        return self._compiled[key]

    def _raw_refs(self, key: Key) -> tuple[Key, ...]:
        return self.refs.get(key, ())

    def evaluator(self, target: Key, frontier, override: dict | None = None):
        """(function of {frontier key: array} -> the target's value, the frontier keys it reads).

        `frontier(key)` says which cells are inputs of the computation; every other computed cell
        the target reads is computed from them. `override` replaces cells' compiled functions
        (a formula edited to try a fix). Raises formula.Unsupported for what cannot be computed.
        """
        override = override or {}
        order: list[Key] = []
        leaves: list[Key] = []
        state: dict[Key, int] = {}
        stack = [(target, False)]
        while stack:
            key, done = stack.pop()
            if done:
                state[key] = 2
                order.append(key)
                continue
            if state.get(key):
                if state[key] == 1:
                    raise formula.Unsupported(f"a circular reference through {where(key)}")
                continue
            if key != target and (frontier(key) or key not in self.trees):
                state[key] = 2
                leaves.append(key)
                continue
            if key not in self.trees:
                raise formula.Unsupported(f"{where(key)} is not a formula")
            state[key] = 1
            stack.append((key, True))
            for ref in self.direct(key):
                if state.get(ref) != 2:
                    stack.append((ref, False))
        steps = []
        for key in order:
            function = override.get(key) or self.compiled(key)
            raws = [(raw, self.resolve(raw)) for raw in self._raw_refs(key) if raw != self.resolve(raw)]
            steps.append((key, function, raws))

        def run(env: dict):
            env = dict(env)
            with np.errstate(all="ignore"):
                for key, function, raws in steps:
                    for raw, real in raws:
                        env[raw] = env[real]
                    env[key] = function(env)
            return env[target]

        return run, leaves


@lru_cache(maxsize=16384)
def _read_formula(text: str) -> tuple[object, tuple, frozenset]:
    """(tree, the references it reads, the functions it calls) of a formula text, INDEX/OFFSET with
    constant arguments read as the cell they name; once per text (a book's LR sheets repeat their
    formulas at the same cells, and walking every tree twice was most of building the graph)."""
    tree = formula.parse(text)
    calls = frozenset(n.name for n in formula.walk(tree) if isinstance(n, formula.Call))
    if calls & VOLATILE:
        return tree, tuple(formula.references(tree)), calls
    if calls & {"INDEX", "OFFSET"}:
        tree = formula.transform(tree, _constant_lookup)
        # what is left to compute: a lookup by a computed index stays, and is opaque
        calls = frozenset(n.name for n in formula.walk(tree) if isinstance(n, formula.Call))
    return tree, tuple(formula.references(tree)), calls


def _constant_lookup(node):
    """INDEX(range, 2, 1) or OFFSET(B5, 1, 0) with constant arguments is the cell they name."""
    if not isinstance(node, formula.Call):
        return None
    args = node.args
    numbers = [a.value for a in args[1:] if isinstance(a, formula.Num)]
    if (
        node.name == "INDEX"
        and isinstance(args[0], formula.Area)
        and 2 <= len(args) <= 3
        and len(numbers) == len(args) - 1
    ):
        first, last = args[0].first, args[0].last
        row, col = int(numbers[0]), int(numbers[1]) if len(numbers) > 1 else 1
        top, left = min(first.row, last.row), min(first.col, last.col)
        if first.row == last.row and len(numbers) == 1:  # a single row: the number counts columns
            row, col = 1, int(numbers[0])
        if (
            row >= 1
            and col >= 1
            and top + row - 1 <= max(first.row, last.row)
            and left + col - 1 <= max(first.col, last.col)
        ):
            return formula.Ref(first.sheet, top + row - 1, left + col - 1)
    if node.name == "OFFSET" and isinstance(args[0], formula.Ref) and len(args) == 3 and len(numbers) == 2:
        ref = args[0]
        return formula.Ref(ref.sheet, ref.row + int(numbers[0]), ref.col + int(numbers[1]))
    return None
