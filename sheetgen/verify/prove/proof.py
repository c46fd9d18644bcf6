"""Prove that a table's formulas compute their quantities for any inputs, not only at the sheet's numbers.

A value check at the sheet's own inputs cannot tell E2 = ½(t2 − a_o2)² from ½(t1 − a_o2)² when
t1 = t2. So each formula is also read as what it computes (its form, forms.py: every reference a
quantity such as "a_h1@0" or "w1@-1"), and each distinct form is proven: at K random points
(worlds.py) where every free quantity has its own value, it must equal the oracle's value of the
cell's quantity. A column filled down has one or two forms, so the proof is cheap.
A form that fails may still hold the sheet's numbers typed in where a cell should be read (η as
0.5): when putting quantities back in place of such literals proves it, the cell is right only at
its numbers. Typed values where formulas belong prove nothing either.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from sheetgen.core import formula
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import Book, address
from sheetgen.verify.prove.forms import Reader, Unmapped, label_of, parameter_cells
from sheetgen.verify.prove.worlds import ETA, K_WORLDS, var
from sheetgen.verify.read.tables import Table

PROOF_TOL = 1e-9
MAX_LITERAL_CHOICES = 256


@dataclass
class Unproven:
    """Cells right only at the sheet's numbers (the verify result interface)."""

    sheet: str
    cells: str  # a range text like "F6:M105"
    label: str
    kind: str  # "values": typed values where formulas belong; "constant": a number typed for a cell
    constant: float | None
    quantity: str | None
    message: str


@dataclass
class Outcome:
    """What proving one form found."""

    status: str  # "proven", "constant", "wrong", "unmapped"
    literals: tuple = ()  # for "constant": ((value, quantity name), ...)
    world_index: int = 0  # for "wrong": a world where it differs
    computed: float = float("nan")
    expected: float = float("nan")
    detail: str = ""
    point: dict = field(default_factory=dict)  # for "wrong": the world's row-independent values
    reading: tuple = ()  # for "proven": ((cell, quantity), ...) the readings of ambiguous cells it took


@dataclass
class CellForm:
    key: str
    index: int  # row index in the table
    row: int
    col: int
    text: str
    form: object | None  # the tree with quantities, None when unmapped
    outcome: Outcome


@dataclass
class TableProof:
    failures: list[CellForm] = field(default_factory=list)  # first failing cell of each column
    unmapped: list[CellForm] = field(default_factory=list)  # first unmappable cell of each column
    unproven: list[Unproven] = field(default_factory=list)
    forms: int = 0
    proven_cells: int = 0
    identified: list[tuple[str, str, str]] = field(default_factory=list)
    extra_columns: dict[int, str] = field(default_factory=dict)  # col -> intermediate key
    # (sheet, row, col) -> free quantity of the cells that are the table's inputs (η, i1, initial
    # w1, ...): what a perturbed recalculation changes when a formula cannot be read here.
    input_cells: dict[tuple, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Prover:
    """Proves forms against the oracle at the random worlds; caches by form."""

    def __init__(self, reader: Reader):
        self.reader = reader
        self._cache: dict[tuple, Outcome] = {}
        self._envs: dict[bool, tuple[int, dict]] = {}
        self._compiled: dict[int, tuple] = {}  # id(tree) -> (tree, its compiled function)
        self.read_as: dict[str, str] = {}  # an ambiguous cell -> the quantity a proven form read it as

    def _env(self, first: bool) -> dict:
        """The world's values and the book's named constants (rebuilt only when constants were added)."""
        constants = self.reader.constants
        cached = self._envs.get(first)
        if cached is None or cached[0] != len(constants):
            values = self.reader.world(first).values
            if constants:
                values = {**values, **{k: np.full(K_WORLDS, v) for k, v in constants.items()}}
            cached = self._envs[first] = (len(constants), values)
        return cached[1]

    def compiled(self, tree):
        """The tree compiled, once: the entry keeps the tree alive, so its id is never reused."""
        entry = self._compiled.get(id(tree))
        if entry is None or entry[0] is not tree:
            entry = self._compiled[id(tree)] = (tree, formula.compile_tree(tree))
        return entry[1]

    def evaluate(self, tree, first: bool):
        compiled = self.compiled(tree)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(compiled(self._env(first)), dtype=np.float64), (K_WORLDS,))

    def environment(self, first: bool) -> dict:
        """The values a compiled form is evaluated with: the world's and the book's named constants."""
        return self._env(first)

    def holds_compiled(self, compiled, key: str, first: bool, env: dict) -> bool:
        """Whether a compiled form equals quantity `key` everywhere in `env` (a world, renamed or not)."""
        try:
            with np.errstate(all="ignore"):
                got = np.broadcast_to(np.asarray(compiled(env), dtype=np.float64), (K_WORLDS,))
        except (KeyError, formula.Unsupported):
            return False
        return bool(np.all(close(got, self.expected(key, first), PROOF_TOL)))

    def expected(self, key: str, first: bool) -> np.ndarray:
        return self.reader.world(first).values[var(key, 0)]

    def holds(self, tree, key: str, first: bool) -> bool:
        try:
            got = self.evaluate(tree, first)
        except (KeyError, formula.Unsupported):
            return False
        return bool(np.all(close(got, self.expected(key, first), PROOF_TOL)))

    def prove(self, tree, key: str, first: bool) -> Outcome:
        # Forms live in the reader's cache as long as this prover, so their identity is a cheap key
        # (hashing a tree walks all of it).
        cached = self._cache.get((id(tree), key, first))
        if cached is None:
            cached = self._cache[(id(tree), key, first)] = self._prove(tree, key, first)
        return cached

    def _prove(self, tree, key: str, first: bool) -> Outcome:
        try:
            got = self.evaluate(tree, first)
        except KeyError as missing:
            name = missing.args[0]
            what = (
                f"column {name[1:].split('@')[0]} (not identified)"
                if str(name).startswith("?")
                else label_of(str(name))
            )
            return Outcome("unmapped", detail=f"reads {what}, which is no quantity of this network")
        except formula.Unsupported as error:
            return Outcome("unmapped", detail=f"cannot be computed here: {error}")
        expected = self.expected(key, first)
        ok = close(got, expected, PROOF_TOL)
        if np.all(ok):
            return Outcome("proven")
        reading = self._reading(tree, key, first)
        if reading is not None:
            self.read_as.update(reading)
            return Outcome("proven", reading=reading)
        literals = self._typed_inputs(tree, key, first)
        if literals is not None:
            if self.reader.eta_cell is None and all(name == ETA for _, name in literals):
                return Outcome("proven")  # η has no cell to read: the number is the sheet's η
            return Outcome("constant", literals=literals)
        j = int(np.argmin(ok))
        chosen = self.reader.world(first)
        point = {n: float(chosen.free[n][j]) for n in (ETA, *chosen.fixed)}
        return Outcome(
            "wrong", world_index=j, computed=float(got[j]), expected=float(expected[j]), point=point
        )

    def _reading(self, tree, key: str, first: bool):
        """The readings of its ambiguous cells (η or i2, both 0.1) that make a form right, or None.

        A cell keeps the reading a proven form gave it: the factor of a gradient in the weight
        updates (proven first, see finish) is η, and then η everywhere.
        """
        readings = self.reader.readings
        names = sorted(
            {n.name for n in formula.walk(tree) if isinstance(n, formula.Var) and n.name in readings}
        )
        if not names:
            return None
        options = [[self.read_as[n]] if n in self.read_as else readings[n] for n in names]
        for choice in itertools.islice(itertools.product(*options), MAX_LITERAL_CHOICES):
            chosen = dict(zip(names, choice, strict=True))

            def put(node, chosen=chosen):
                if isinstance(node, formula.Var) and node.name in chosen:
                    return formula.Var(chosen[node.name])
                return None

            if self.holds(formula.transform(tree, put), key, first):
                return tuple(chosen.items())
        return None

    def _typed_inputs(self, tree, key: str, first: bool):
        """Literals that, read as the inputs whose sheet values they are, make the form right."""
        candidates = list(self.reader.inputs_by_value)
        if first:
            sheet, table = self.reader.sheet, self.reader.table
            for name in self.reader.world(True).trained:
                col = table.columns.get(name)
                value = sheet.values.get((table.rows[0], col)) if col else None
                if isinstance(value, float):
                    candidates.append((var(name, 0), value))
        # Each occurrence on its own: in ½(0.5 − a_o1)² one 0.5 is the ½, the other t1.
        literals = [n.value for n in formula.walk(tree) if isinstance(n, formula.Num)]
        options = [
            [None, *(name for name, v in candidates if close(number, v, 1e-12))] for number in literals
        ]
        if not any(len(o) > 1 for o in options):
            return None
        for choice in itertools.islice(itertools.product(*options), MAX_LITERAL_CHOICES):
            if not any(choice):
                continue
            slots = iter(choice)

            def put(node, slots=slots):
                if not isinstance(node, formula.Num):
                    return None
                name = next(slots)
                return formula.Var(name) if name else None

            changed = formula.transform(tree, put)
            if self.holds(changed, key, first):
                return tuple(sorted({(v, name) for v, name in zip(literals, choice, strict=True) if name}))
        return None


def _range_text(cells: list[tuple[int, int]]) -> str:
    rows = [r for r, _ in cells]
    cols = [c for _, c in cells]
    first, last = address(min(rows), min(cols)), address(max(rows), max(cols))
    return first if first == last else f"{first}:{last}"


def _input_cells(reader: Reader) -> dict[tuple, str]:
    """The cells holding the table's inputs: η, labelled inputs, and the first row's typed inputs."""
    table, sheet = reader.table, reader.sheet
    first = reader.world(True)
    free = set(first.fixed) | set(first.trained)
    cells = {where: name.removeprefix("param:") for where, name in reader.params.items()}
    cells = {where: name for where, name in cells.items() if name in free}
    if reader.eta_cell is not None:
        cells[reader.eta_cell] = ETA
    if reader.eta_column is not None:  # η typed again on each row: every typed one is an input
        for row in table.rows:
            if (row, reader.eta_column) not in sheet.formulas:
                cells[(table.sheet, row, reader.eta_column)] = ETA
    for col, key in reader.col_keys.items():
        if key not in free:
            continue
        rows = table.rows if key in first.fixed else table.rows[:1]
        for row in rows:
            if (row, col) not in sheet.formulas and isinstance(sheet.values.get((row, col)), float):
                cells[(table.sheet, row, col)] = key
    return cells


def _where(reader: Reader, cells: list[tuple[str, int, int]]) -> str:
    """The cells as a reader finds them: 'Sheet1'!B5:B10, or where a made-up book's cells came from."""
    origin = reader.book.origin
    if origin and all(cell in origin for cell in cells):
        first, last = origin[min(cells)], origin[max(cells)]
        return first if first == last else f"{first} … {last}"
    sheet = cells[0][0]
    return f"'{sheet}'!{_range_text([(row, col) for _, row, col in cells])}"


def _labelled_eta_value(reader: Reader) -> bool:
    """Whether a labelled input's cell holds η's value while η has no cell (forms.Reader._labelled)."""
    if reader.eta_cell is not None or reader.eta is None:
        return False
    for sheet, row, col in reader.params:
        value = reader.book.sheet(sheet).values.get((row, col))
        if isinstance(value, float) and close(value, reader.eta, 1e-12):
            return True
    return False


def _constant(tree) -> bool:
    """Whether a form reads nothing: a number, or arithmetic on numbers only (=0.5, =1/2)."""
    arithmetic = (formula.Num, formula.Unary, formula.Binary, formula.Percent)
    return all(isinstance(node, arithmetic) for node in formula.walk(tree))


def needs_formula(key: str, index: int, trained: list[str], fixed: list[str]) -> bool:
    """Whether a typed value in this cell is a value where a formula belongs."""
    if key in fixed:
        return False  # inputs and targets may be typed in every row
    if key in trained:
        return index > 0  # the first row's weights are the inputs
    return True


def start(book: Book, table: Table, header_cells: set, identify=None) -> tuple[Reader, Prover, TableProof]:
    """Read a table's formulas; identify(reader, prover, result) may then name its unlabelled columns
    (verify/identify.py), before the value check reads the table."""
    reader = Reader(book, table, header_cells, parameter_cells(book, header_cells))
    prover = Prover(reader)
    result = TableProof()
    if identify is not None:
        identify(reader, prover, result)
    reader.inline_unknown_columns()
    return reader, prover, result


def finish(reader: Reader, prover: Prover, result: TableProof, eta: float | None) -> TableProof:
    """Prove every computed cell of the table, η being the value check's."""
    reader.set_eta(eta)
    table = reader.table
    w = reader.world(True)
    sheet = reader.sheet
    values_cells: dict[str, list[tuple[int, int]]] = {}
    typed: dict[tuple, list[tuple[int, int]]] = {}
    constant_inputs: dict[str, list[tuple[int, int]]] = {}
    typed_inputs: dict[str, list[tuple[int, int]]] = {}
    constant: dict[int, bool] = {}  # id(form) -> whether it reads nothing (forms live as long as the reader)
    forms: set = set()
    # The weight updates first: their factor of a gradient is η, which settles what an unlabelled
    # ambiguous cell (η = i2 = 0.1) is before the formulas that read it otherwise are proven. A
    # labelled input holding η's value is its label's quantity if a formula reads it so: then the
    # other formulas go first.
    updates_last = _labelled_eta_value(reader)
    for col, key in sorted(
        reader.col_keys.items(), key=lambda item: ((item[1] in w.trained) == updates_last, item[0])
    ):
        failed = unmapped = False
        stored = sheet.formulas.column(table.rows, col)  # the whole column's formulas at once
        for index, row in enumerate(table.rows):
            if stored[index] is None:
                value = sheet.values.get((row, col))
                if value not in (None, "") and needs_formula(key, index, w.trained, w.fixed):
                    values_cells.setdefault(key, []).append((row, col))
                elif index > 0 and isinstance(value, float):
                    typed_inputs.setdefault(key, []).append((row, col))  # an input typed on every row
                continue
            try:
                tree = reader.form(row, col, stored[index])
            except (Unmapped, formula.Unsupported, formula.FormulaError) as error:
                if not unmapped:
                    text = sheet.formula(row, col) or ""
                    result.unmapped.append(
                        CellForm(key, index, row, col, text, None, Outcome("unmapped", detail=str(error)))
                    )
                    unmapped = True
                continue
            is_input = key in w.fixed or (index == 0 and key in w.trained)  # not needs_formula(...)
            if is_input and id(tree) not in constant:
                constant[id(tree)] = _constant(tree)
            if is_input and constant[id(tree)]:
                # An input given as a constant formula (=0.5 down the t1 column, =0.15 for an initial
                # weight) is an input as a typed number is: nothing to prove, and an edit changes it.
                constant_inputs.setdefault(key, []).append((row, col))
                continue
            forms.add((id(tree), key, index == 0))
            outcome = prover.prove(tree, key, index == 0)
            if outcome.status == "proven":
                result.proven_cells += 1
            elif outcome.status == "constant":
                for value, name in outcome.literals:
                    typed.setdefault((value, name), []).append((row, col))
            elif outcome.status == "unmapped":
                if not unmapped:
                    result.unmapped.append(
                        CellForm(key, index, row, col, sheet.formula(row, col), tree, outcome)
                    )
                    unmapped = True
            elif not failed:
                result.failures.append(CellForm(key, index, row, col, sheet.formula(row, col), tree, outcome))
                failed = True
    result.forms = len(forms)
    name = table.sheet
    result.input_cells = _input_cells(reader)
    for cell, quantity in prover.read_as.items():
        value = reader.constants.get(cell)
        shown, where = label_of(quantity, table), _where(reader, [reader.places[cell]])
        others = [label_of(q, table) for q in reader.readings.get(cell, ()) if q != quantity]
        label = reader.labels.get(cell)
        if label == quantity:
            continue  # read as its label says: nothing to note
        if label is not None:
            held = f"is labelled {label_of(label, table)} and holds {value:g}, {shown}'s value too"
        else:
            held = f"holds {value:g}, the value of both {shown} and {' and '.join(others)}"
        result.notes.append(
            f"{where} {held}: read as {shown}, the reading that makes the formulas reading it right"
        )
    if reader.closed:
        (row, col), text = next(iter(reader.closed.items()))
        more = f" (and {len(reader.closed) - 1} more formulas)" if len(reader.closed) > 1 else ""
        result.notes.append(
            f"{_where(reader, [(name, row, col)])}'s formula ={text} lacks its closing parenthesis{more}: "
            "read closed at its end, as LibreOffice and Excel close it when they open the book"
        )
    given = []
    for key, cells in constant_inputs.items():
        result.input_cells.update({(name, row, col): key for row, col in cells})
        where = _where(reader, [(name, *cell) for cell in cells])
        given.append(f"{label_of(key, table)} as ={sheet.formula(*cells[0])} in {where}")
    for key, cells in typed_inputs.items():
        given.append(
            f"{label_of(key, table)} typed on every row, {_where(reader, [(name, *c) for c in cells])}"
        )
    if given:
        result.notes.append(f"inputs written as numbers ({'; '.join(given)}): each read as that input")
    for cell in result.unmapped:
        label = table.headers.get(cell.key, cell.key)
        where = f"'{name}'!{address(cell.row, cell.col)}"
        result.unproven.append(
            Unproven(
                name,
                address(cell.row, cell.col),
                label,
                "unproven",
                None,
                None,
                f"{where} ({label}) not proven: {cell.outcome.detail}",
            )
        )
    if values_cells:
        cells = [cell for column in values_cells.values() for cell in column]
        text = _range_text(cells)
        labels = [table.headers.get(key, key) for key in values_cells]
        label = labels[0] if len(labels) == 1 else f"{len(labels)} columns"
        result.unproven.append(
            Unproven(
                name,
                text,
                label,
                "values",
                None,
                None,
                f"typed values where formulas belong in '{name}'!{text} ({label}): right numbers, "
                "nothing to prove",
            )
        )
    for (value, quantity), cells in typed.items():
        text = _range_text(cells)
        shown = label_of(quantity, table)
        result.unproven.append(
            Unproven(
                name,
                text,
                shown,
                "constant",
                value,
                shown,
                f"{shown} typed in as {value:g} in '{name}'!{text}: editing {shown} changes nothing",
            )
        )
    return result
