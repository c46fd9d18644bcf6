"""Prove that a table's formulas compute their quantities for any inputs, not only at the sheet's numbers.

A value check at the sheet's own inputs cannot tell E2 = ½(t2 − a_o2)² from ½(t1 − a_o2)² when
t1 = t2. So each formula is also read as what it computes:
  * every reference becomes a quantity: a cell of the table is (column key, row offset), written
    "a_h1@0" (same row) or "w1@-1" (row above); the table's η cell is "η"; a labelled input or
    initial weight anywhere in the book is "param:i1"; an unlabelled number cell is the input whose
    value it holds when exactly one does, else a named constant; a formula cell outside the table is
    inlined (a few levels deep);
  * cells whose formulas are equal relative to themselves share one form (a column filled down
    has one or two), so the proof runs once per form;
  * a form is proven when, at K random points ("worlds") where every free quantity has its own
    value (inputs and targets distinct in (0, 1), weights in [−1, 1], η in [0.1, 2]), it equals
    the oracle's value of the cell's quantity. In a row after the first, the row's weights are the
    row above's updated by its gradients, as training does; the first row's weights are free.
A form that fails may still hold the sheet's numbers typed in where a cell should be read (η as
0.5): when putting quantities back in place of such literals proves it, the cell is right only at
its numbers. The free quantities are oracle.evaluate's arguments, whatever they are.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass, field

import numpy as np

from sheetgen.core import formula, oracle
from sheetgen.core.intermediates import intermediates
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import Book, address, column_letters
from sheetgen.verify.tables import UPDATED, Table

K_WORLDS = 6
PROOF_TOL = 1e-9
INLINE_DEPTH = 4
MAX_LITERAL_CHOICES = 256
OFFSETS = range(-2, 3)  # row offsets a world holds: two rows above to two below
ETA = "η"


def free_names() -> list[str]:
    """The oracle's free variables (inputs, targets, initial weights, and whatever it gains later)."""
    return list(inspect.signature(oracle.evaluate).parameters)


def optional_names() -> dict[str, float]:
    """Free variables with a default (biases): a network without them holds them at that value."""
    parameters = inspect.signature(oracle.evaluate).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def with_gradient() -> list[str]:
    """The free variables the oracle gives a gradient dE_d<name> of (what training may update)."""
    names = free_names()
    probe = oracle.evaluate(**{n: 0.3 for n in names})
    return [n for n in names if f"dE_d{n}" in probe]


def var(key: str, offset: int) -> str:
    return f"{key}@{offset}"


def split_var(name: str) -> tuple[str, int] | None:
    key, at, offset = name.rpartition("@")
    if not at:
        return None
    try:
        return key, int(offset)
    except ValueError:
        return None


@dataclass
class World:
    """K random points: every quantity's value, keyed as the forms name them."""

    first: bool  # True: the row is the table's first (its weights are free, nothing above it)
    values: dict[str, np.ndarray]
    free: dict[str, np.ndarray]  # the free quantities of the row, for reports
    trained: tuple[str, ...]
    fixed: tuple[str, ...]


def make_world(first: bool, absent=(), trained=None, k: int = K_WORLDS, seed: int = 20240611) -> World:
    """The worlds of a network: `absent` free variables held at their defaults (no biases), `trained`
    the ones updated from row to row (default: all with a gradient but the absent)."""
    rng = np.random.default_rng(seed + int(first))
    names = [n for n in free_names() if n not in absent]
    defaults = {n: v for n, v in optional_names().items() if n in absent}
    graded = with_gradient()
    trained = tuple(n for n in names if n in graded) if trained is None else tuple(trained)
    fixed = tuple(n for n in names if n not in trained)
    eta = rng.uniform(0.1, 2.0, k)
    fixed_values = {
        n: rng.uniform(-1.0, 1.0, k) if n in graded else rng.uniform(0.05, 0.95, k) for n in fixed
    }
    params = {n: rng.uniform(-1.0, 1.0, k) for n in trained}
    values: dict[str, np.ndarray] = {ETA: eta}
    free = {ETA: eta, **fixed_values}
    with np.errstate(all="ignore"):
        for offset in OFFSETS if not first else range(0, OFFSETS.stop):
            if offset == 0:
                free.update(params)
            out = oracle.evaluate(**fixed_values, **params, **defaults)
            out.update(intermediates(out))
            updated = {n: params[n] - eta * out[f"dE_d{n}"] for n in trained}
            for key, value in out.items():
                values[var(key, offset)] = np.broadcast_to(np.asarray(value, dtype=np.float64), (k,))
            for n in trained:
                values[var(UPDATED + n, offset)] = updated[n]
            params = updated
    for n in fixed:
        values[f"param:{n}"] = fixed_values[n]
    for n in trained:  # an initial weight is the row's own weight only in the first row
        values[f"param:{n}"] = values[var(n, 0)] if first else rng.uniform(-1.0, 1.0, k)
    return World(first, values, free, trained, fixed)


_WORLDS: dict[tuple, World] = {}


def world(first: bool, absent=(), trained=None) -> World:
    key = (first, tuple(absent), None if trained is None else tuple(trained))
    if key not in _WORLDS:
        _WORLDS[key] = make_world(first, tuple(absent), trained)
    return _WORLDS[key]


def network_of(table: Table, params: dict[tuple, str], col_keys: dict[int, str]) -> tuple[tuple, tuple]:
    """(absent, trained) free variables of a table's network.

    An optional variable (a bias) with no column and no labelled cell is absent: held at its
    default. One with a column is trained when the table has its gradient column, else fixed.
    """
    present = set(col_keys.values()) | set(table.params)
    labelled = {name.removeprefix("param:") for name in params.values()}
    absent = tuple(n for n in optional_names() if n not in present and n not in labelled)
    trained = tuple(
        n for n in with_gradient() if n not in absent and (n not in optional_names() or f"dE_d{n}" in present)
    )
    return absent, trained


def _every_label() -> dict[str, str]:
    """Normalised label -> key over every network variant's column table (biases included)."""
    from sheetgen.core.columns import columns_for
    from sheetgen.verify.tables import normalize

    labels: dict[str, str] = {}
    for mode in oracle.BIAS_MODES:
        for column in columns_for(mode):
            for spelling in (column.key, column.label, *column.aliases):
                labels.setdefault(normalize(spelling), column.key)
    return labels


_ALL_LABELS: dict[str, str] = {}


def lookup_any(text: str) -> str | None:
    """The key a label means in any network variant (b1, ∂E/∂b1 besides the course's labels)."""
    from sheetgen.verify.tables import lookup, normalize

    if not _ALL_LABELS:
        _ALL_LABELS.update(_every_label())
    return lookup(text) or _ALL_LABELS.get(normalize(text))


class Unmapped(Exception):
    """A reference that maps to no quantity (text, another table, an unidentified column)."""


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


def label_of(name: str, table: Table | None = None) -> str:
    """How a report names a quantity variable: 'a_h1', 'w1 of the row above', 'η', 'i1'."""
    from sheetgen.core.columns import BY_KEY
    from sheetgen.core.intermediates import LABELS

    if name == ETA:
        return ETA
    if name.startswith("param:"):
        return name.removeprefix("param:")
    if name.startswith("cell:"):
        return name.removeprefix("cell:")
    parts = split_var(name)
    if parts is None:
        return name
    key, offset = parts
    if key.startswith(UPDATED):
        shown = f"{key.removeprefix(UPDATED)} new"
    elif table is not None and key in table.headers:
        shown = table.headers[key]
    elif key in BY_KEY:
        shown = BY_KEY[key].label
    else:
        shown = LABELS.get(key, key)
    where = {0: "", -1: " of the row above", 1: " of the row below"}.get(offset, f" of row {offset:+d}")
    return shown + where


class Reader:
    """Turns a table cell's formula into its form: the tree with every reference a quantity."""

    def __init__(self, book: Book, table: Table, header_cells: set, params: dict[tuple, str]):
        self.book, self.table = book, table
        self.sheet = book.sheet(table.sheet)
        self.index = {row: i for i, row in enumerate(table.rows)}
        self.col_keys = {col: key for key, col in table.columns.items() if key != "iteration"}
        self._other_variant_columns()
        self.header_cells = header_cells
        self.params = params  # (sheet, row, col) -> "param:<name>"
        self.eta_cell = _eta_cell(table)
        self.eta_cells = per_book(book, eta_cells)
        self.names = per_book(book, defined_names)
        self.eta = table.eta
        self.network = network_of(table, params, self.col_keys)
        self.constants: dict[str, float] = {}
        self._shapes: dict[tuple, tuple] = {}
        self._forms: dict[tuple, object] = {}
        self.inputs_by_value = self._input_values()

    def _other_variant_columns(self) -> None:
        """Header cells naming a quantity of another network variant (b1, ∂E/∂b1): columns too."""
        if self.sheet is None:
            return
        row = self.table.header_row
        for (r, col), value in self.sheet.values.items():
            if r == row and col not in self.col_keys and isinstance(value, str) and len(value) < 40:
                key = lookup_any(value)
                if key is not None and key not in self.col_keys.values() and key != "iteration":
                    self.col_keys[col] = key

    def set_eta(self, eta: float | None) -> None:
        """The table's η as the value check chose it (labelled or inferred)."""
        self.eta = eta
        self.inputs_by_value = self._input_values()

    def world(self, first: bool) -> World:
        return world(first, *self.network)

    def _input_values(self) -> list[tuple[str, float]]:
        """(quantity, the sheet's value) of the row-independent inputs: η and the fixed inputs."""
        found = []
        if self.eta is not None:
            found.append((ETA, self.eta))
        for name in self.world(True).fixed:
            value = self.table.params.get(name)
            if value is None and name in self.table.columns and self.table.rows:
                raw = self.sheet.values.get((self.table.rows[0], self.table.columns[name]))
                value = raw if isinstance(raw, float) else None
            if value is not None:
                found.append((f"param:{name}", value))
        return found

    def forget_forms(self) -> None:
        """Drop the cached forms: a column was identified, so references to it now mean a quantity."""
        self._forms.clear()

    def form(self, row: int, col: int, text: str | None = None):
        """The form of the formula in (row, col), or raise Unmapped / formula.FormulaError."""
        stored = self.sheet.formulas.get((row, col)) if text is None else text
        if isinstance(stored, tuple):  # a shared formula: one form for its whole block, by definition
            text, origin = self.sheet.shared.get(stored[1], (None, None))
            at = origin
            shape = (("shared", stored[1]), col)
        else:
            text, at = stored, (row, col)
            shape = (formula.shape(text, row, col), col) if text else None
        if text is None:
            raise Unmapped(f"{address(row, col)} holds no formula")
        info = self._shapes.get(shape)
        if info is None:
            tree = formula.parse(text)
            refs = [r for r in formula.references(tree) if not r.row_abs]
            info = (tree, at[0], at[1], sorted({r.row - at[0] for r in refs}))
            self._shapes[shape] = info
        tree, rep_row, rep_col, offsets = info
        inside = tuple(row + d in self.index for d in offsets)
        key = (shape, col, inside, self.index[row] == 0)
        if key not in self._forms:
            try:
                self._forms[key] = self._map(tree, row - rep_row, col - rep_col, self.index[row], 0)
            except (Unmapped, formula.Unsupported, formula.FormulaError) as error:
                self._forms[key] = error
        found = self._forms[key]
        if isinstance(found, Exception):
            raise found
        return found

    def _map(self, tree, drow: int, dcol: int, at: int, depth: int, sheet: str | None = None):
        """The tree with every cell reference replaced by its quantity (a Var, or an inlined form)."""
        own = sheet or self.table.sheet

        def change(node):
            if isinstance(node, formula.Ref):
                row = node.row if node.row_abs else node.row + drow
                col = node.col if node.col_abs else node.col + dcol
                return self.quantity(node.sheet or own, row, col, at, depth)
            if isinstance(node, formula.Name):
                target = self.names.get(node.text.upper())
                if target is None:
                    raise formula.Unsupported(f"the name {node.text!r} (not a defined name of one cell)")
                return self.quantity(target[0], target[1], target[2], at, depth)
            if isinstance(node, formula.Call) and any(isinstance(a, formula.Area) for a in node.args):
                if node.name not in formula.FUNCTIONS or not formula.FUNCTIONS[node.name][3]:
                    raise formula.Unsupported(f"a range inside {node.name}")
                args = []
                for arg in node.args:
                    cells = arg.cells() if isinstance(arg, formula.Area) else [arg]
                    args.extend(change(c) if isinstance(c, formula.Ref) else c for c in cells)
                return formula.Call(node.name, tuple(args))
            return None

        return formula.transform(tree, change)

    def quantity(self, sheet: str, row: int, col: int, at: int, depth: int):
        table = self.table
        if sheet == table.sheet and row in self.index:
            key = self.col_keys.get(col)
            offset = self.index[row] - at
            if key is not None:
                return formula.Var(var(key, offset))
            if (sheet, row, col) not in self.params:
                return formula.Var(f"?{column_letters(col)}@{offset}")  # a column not identified (yet)
        where = (sheet, row, col)
        if where == self.eta_cell or (self.eta_cell is None and where in self.eta_cells):
            return formula.Var(ETA)  # the table's η, or the one labelled η when its sheet has none
        if where in self.params:
            return formula.Var(self.params[where])
        other = self.book.sheet(sheet)
        if other is None:
            raise Unmapped(f"sheet '{sheet}' does not exist")
        text = other.formula(row, col)
        if text is not None:
            if depth >= INLINE_DEPTH:
                raise Unmapped(f"'{sheet}'!{address(row, col)} nests formulas too deeply")
            return self._map(formula.parse(text), 0, 0, at, depth + 1, sheet)
        value = other.values.get((row, col))
        if value is None or value == "":
            value = 0.0  # a spreadsheet reads an empty cell as 0
        if not isinstance(value, float):
            raise Unmapped(f"'{sheet}'!{address(row, col)} holds {str(value)[:30]!r}, not a number")
        same = [name for name, v in self.inputs_by_value if close(value, v, 1e-12)]
        if len(same) == 1:  # an unlabelled cell holding an input's value: it is that input's cell
            return formula.Var(same[0])
        name = f"cell:'{sheet}'!{address(row, col)}"
        self.constants[name] = value
        return formula.Var(name)


_PER_BOOK: dict = {}  # function -> (book, its result): the tables of one book share what is read once


def per_book(book: Book, compute):
    last = _PER_BOOK.get(compute)
    if last is None or last[0] is not book:
        last = _PER_BOOK[compute] = (book, compute(book))
    return last[1]


def eta_cells(book: Book) -> set[tuple]:
    """(sheet, row, col) of every number labelled η (eta, lr, learning rate) anywhere in the book."""
    from sheetgen.verify.tables import eta_label

    found = set()
    for sheet in book.sheets:
        for (row, col), value in sheet.values.items():
            if isinstance(value, str) and len(value) <= 40 and eta_label(value):
                for spot in ((row, col + 1), (row, col + 2), (row + 1, col)):
                    if isinstance(sheet.values.get(spot), float):
                        found.add((sheet.name, *spot))
                        break
    return found


def defined_names(book: Book) -> dict[str, tuple[str, int, int]]:
    """Upper-cased defined name -> (sheet, row, col) for every workbook-wide name of a single cell."""
    import zipfile
    from xml.etree import ElementTree as ET

    from sheetgen.core.errors import UserError
    from sheetgen.core.xlsx import open_checked

    found: dict[str, tuple[str, int, int]] = {}
    try:
        with open_checked(book.path) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                return found
            with archive.open("xl/workbook.xml") as stream:
                root = ET.parse(stream).getroot()
    except (OSError, ValueError, zipfile.BadZipFile, ET.ParseError, UserError):
        return found  # no names to read: references by name stay unproven
    for element in root.iter():
        if element.tag.rpartition("}")[2] != "definedName" or element.get("localSheetId") is not None:
            continue
        try:
            target = formula.parse(element.text or "")
        except formula.FormulaError:
            continue
        if isinstance(target, formula.Ref) and target.sheet:
            found[element.get("name", "").upper()] = (target.sheet, target.row, target.col)
    return found


def _eta_cell(table: Table) -> tuple | None:
    """(sheet, row, col) of the table's η cell, when η was read from a cell of its own."""
    source = table.eta_source
    if not source.startswith("cell ") or "(" in source:
        return None  # "cell D2 ('η = 0.5')": η written inside a label, no cell to read
    try:
        ref = formula.parse(source.removeprefix("cell ").split()[0])
    except formula.FormulaError:
        return None
    return (table.sheet, ref.row, ref.col) if isinstance(ref, formula.Ref) else None


_PARAMETER_CELLS: list = []  # [(book, header cells, result)] of the last book read: its tables share it


def parameter_cells(book: Book, header_cells: set) -> dict[tuple, str]:
    """(sheet, row, col) -> 'param:<name>' for every labelled input or initial-weight value cell."""
    if _PARAMETER_CELLS and _PARAMETER_CELLS[0][0] is book and _PARAMETER_CELLS[0][1] == header_cells:
        return _PARAMETER_CELLS[0][2]
    found = _parameter_cells(book, header_cells)
    _PARAMETER_CELLS[:] = [(book, header_cells, found)]
    return found


def _parameter_cells(book: Book, header_cells: set) -> dict[tuple, str]:
    lookup = lookup_any
    names = set(free_names())
    found: dict[tuple, str] = {}
    for sheet in book.sheets:
        for (row, col), value in sheet.values.items():
            if not isinstance(value, str) or len(value) > 30 or (sheet.name, row, col) in header_cells:
                continue
            key = lookup(value)
            if key not in names:
                continue
            for spot in ((row, col + 1), (row, col + 2), (row + 1, col)):
                if isinstance(sheet.values.get(spot), float):
                    found.setdefault((sheet.name, *spot), f"param:{key}")
                    break
                if sheet.values.get(spot) not in (None, ""):
                    continue
    return found


# --- proving ----------------------------------------------------------------------------------


class Prover:
    """Proves forms against the oracle at the random worlds; caches by form."""

    def __init__(self, reader: Reader):
        self.reader = reader
        self._cache: dict[tuple, Outcome] = {}
        self._envs: dict[bool, tuple[int, dict]] = {}

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

    def evaluate(self, tree, first: bool):
        compiled = formula.compile_tree(tree)  # a tree is proven once (prove caches), so no cache here
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(compiled(self._env(first)), dtype=np.float64), (K_WORLDS,))

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
    for col, key in reader.col_keys.items():
        if key not in free:
            continue
        rows = table.rows if key in first.fixed else table.rows[:1]
        for row in rows:
            if (row, col) not in sheet.formulas and isinstance(sheet.values.get((row, col)), float):
                cells[(table.sheet, row, col)] = key
    return cells


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
    return reader, prover, result


def finish(reader: Reader, prover: Prover, result: TableProof, eta: float | None) -> TableProof:
    """Prove every computed cell of the table, η being the value check's."""
    reader.set_eta(eta)
    table = reader.table
    w = reader.world(True)
    sheet = reader.sheet
    values_cells: dict[str, list[tuple[int, int]]] = {}
    typed: dict[tuple, list[tuple[int, int]]] = {}
    forms: set = set()
    for col, key in sorted(reader.col_keys.items()):
        failed = unmapped = False
        for index, row in enumerate(table.rows):
            if (row, col) not in sheet.formulas:
                value = sheet.values.get((row, col))
                if value not in (None, "") and needs_formula(key, index, w.trained, w.fixed):
                    values_cells.setdefault(key, []).append((row, col))
                continue
            try:
                tree = reader.form(row, col)
            except (Unmapped, formula.Unsupported, formula.FormulaError) as error:
                if not unmapped:
                    text = sheet.formula(row, col) or ""
                    result.unmapped.append(
                        CellForm(key, index, row, col, text, None, Outcome("unmapped", detail=str(error)))
                    )
                    unmapped = True
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
