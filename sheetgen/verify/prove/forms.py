"""A table cell's formula as its form: the syntax tree with every reference read as a quantity.

A cell of the table is (column key, row offset), "a_h1@0" or "w1@-1"; the table's η cell (or, when
its sheet has none, a cell labelled η anywhere) is "η"; a labelled input or initial weight anywhere
in the book is "param:i1"; a defined name of one cell reads that cell; an unlabelled number cell
is the input whose value it holds when exactly one does, else a named constant; a formula cell
outside the table is inlined (a few levels deep). Cells whose formulas are equal relative to
themselves (a column filled down, a shared formula) share one form, computed once.
"""

from __future__ import annotations

from sheetgen.core import formula, oracle
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import Book, address, column_letters
from sheetgen.verify.prove.worlds import ETA, World, free_names, network_of, split_var, var, world
from sheetgen.verify.read.tables import MAX_GAP, UPDATED, Table

INLINE_DEPTH = 4


class Unmapped(Exception):
    """A reference that maps to no quantity (text, another table, an unidentified column)."""


def _every_label() -> dict[str, str]:
    """Normalised label -> key over every network variant's column table (biases included)."""
    from sheetgen.core.columns import columns_for
    from sheetgen.verify.read.tables import normalize

    labels: dict[str, str] = {}
    for mode in oracle.BIAS_MODES:
        for column in columns_for(mode):
            for spelling in (column.key, column.label, *column.aliases):
                labels.setdefault(normalize(spelling), column.key)
    return labels


_ALL_LABELS: dict[str, str] = {}


def lookup_any(text: str) -> str | None:
    """The key a label means in any network variant (b1, ∂E/∂b1 besides the course's labels)."""
    from sheetgen.verify.read.tables import lookup, normalize

    if not _ALL_LABELS:
        _ALL_LABELS.update(_every_label())
    return lookup(text) or _ALL_LABELS.get(normalize(text))


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
        self.eta_column = _eta_column(table, self.sheet)
        self.inline_unknown = False  # set once identification is over (inline_unknown_columns)
        self.eta_cells = per_book(book, eta_cells)
        self.names = per_book(book, defined_names)
        self.eta = table.eta
        self.network = network_of(table, params, self.col_keys)
        self.constants: dict[str, float] = {}
        # A number cell whose value several inputs share (η = i2 = 0.1), or a labelled input holding
        # η's value where η has no cell of its own: "cell:…" -> the quantities it may be. The proof
        # reads it as the one that makes the formulas reading it right (proof.Prover.reading).
        self.readings: dict[str, list[str]] = {}
        self.labels: dict[str, str] = {}  # "cell:…" of a labelled input -> its label's quantity
        self.places: dict[str, tuple] = {}  # "cell:…" -> its (sheet, row, col)
        self.closed: dict[tuple[int, int], str] = {}  # cell -> its formula that lacks closing parentheses
        self._shapes: dict[tuple, tuple] = {}
        self._forms: dict[tuple, object] = {}
        self.inputs_by_value = self._input_values()

    def _other_variant_columns(self) -> None:
        """Header cells naming a quantity of another network variant (b1, ∂E/∂b1): columns too."""
        if self.sheet is None:
            return
        row, values = self.table.header_row, self.sheet.values
        last = max(self.table.columns.values()) + 2 * MAX_GAP  # the header row, a gap beyond its last label
        for col in range(max(1, min(self.table.columns.values()) - MAX_GAP), last + 1):
            value = values.get((row, col))
            if (
                col not in self.col_keys
                and col not in self.table.spare
                and isinstance(value, str)
                and len(value) < 40
            ):
                key = lookup_any(value)
                if key is not None and key not in self.col_keys.values() and key != "iteration":
                    self.col_keys[col] = key

    def set_eta(self, eta: float | None) -> None:
        """The table's η as the value check chose it (labelled or inferred)."""
        if eta != self.eta:  # forms read before it knew η read its unlabelled cell as a constant
            self.forget_forms()
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

    def inline_unknown_columns(self) -> None:
        """From now on a column no label or proof named (a Δw = η·∂E/∂w column a student added) is
        read as what its formula computes, wherever another formula reads it."""
        self.inline_unknown = True
        self.forget_forms()

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
            tree = self._parse(text, at)
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

    def _parse(self, text: str, at: tuple[int, int]):
        """The formula's tree; one lacking closing parentheses is closed at its end, as LibreOffice and
        Excel close it when they read it (the cell is noted in `closed`)."""
        try:
            return formula.parse(text)
        except formula.FormulaError:
            missing = _unclosed(text)
            if missing <= 0:
                raise
            tree = formula.parse(text + ")" * missing)
            self.closed.setdefault(at, text)
            return tree

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
            if col == self.eta_column:
                return formula.Var(ETA)  # η repeated on every row, typed or read from the row above
            text = self.sheet.formula(row, col) if self.inline_unknown else None
            if text is not None and col not in self.table.spare and depth < INLINE_DEPTH:
                return self._map(formula.parse(text), 0, 0, at, depth + 1, sheet)
            if (sheet, row, col) not in self.params:
                return formula.Var(f"?{column_letters(col)}@{offset}")  # a column not identified (yet)
        where = (sheet, row, col)
        if where == self.eta_cell or (self.eta_cell is None and where in self.eta_cells):
            return formula.Var(ETA)  # the table's η, or the one labelled η when its sheet has none
        if where in self.params:
            return self._labelled(where, self.params[where])
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
        name = _cell_name(sheet, row, col, _label_left_of(other, row, col))
        self.constants[name] = value
        if len(same) > 1:  # which input it is, the formulas reading it decide
            self.readings.setdefault(name, same)
            self.places[name] = where
        return formula.Var(name)

    def _labelled(self, where: tuple, param: str):
        """A labelled input's cell: that input, unless it also holds η's value while η has no cell of
        its own; then the formulas reading it decide, as for an unlabelled cell (labels do not
        overrule what a cell computes)."""
        value = self.book.sheet(where[0]).values.get(where[1:])
        if self.eta_cell is not None or self.eta is None or not isinstance(value, float):
            return formula.Var(param)
        if not close(value, self.eta, 1e-12):
            return formula.Var(param)
        name = _cell_name(*where, param.removeprefix("param:"))
        self.constants[name] = value
        self.readings.setdefault(name, [param, ETA])
        self.labels[name] = param
        self.places[name] = where
        return formula.Var(name)


def _cell_name(sheet: str, row: int, col: int, label: str = "") -> str:
    """The variable of a number cell read as itself: "cell:t1 ('Sheet1'!B3)" with its label, so a
    report names it by the label a reader sees, else "cell:'Sheet1'!B3"."""
    where = f"'{sheet}'!{address(row, col)}"
    return f"cell:{label} ({where})" if label else f"cell:{where}"


def _label_left_of(sheet, row: int, col: int) -> str:
    """The short text left of a number cell (its label, "Lernrate"), or ''."""
    text = sheet.values.get((row, col - 1)) if col > 1 else None
    if isinstance(text, str) and 0 < len(text.strip()) <= 30 and not text.startswith("#"):
        return text.strip().rstrip(":= ")
    return ""


def _unclosed(text: str) -> int:
    """How many '(' a formula leaves open, outside its strings and quoted sheet names."""
    depth, quote = 0, None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return -1
    return depth


_PER_BOOK: dict = {}  # function -> (book, its result): the tables of one book share what is read once


def per_book(book: Book, compute):
    last = _PER_BOOK.get(compute)
    if last is None or last[0] is not book:
        last = _PER_BOOK[compute] = (book, compute(book))
    return last[1]


def eta_cells(book: Book) -> set[tuple]:
    """(sheet, row, col) of every number labelled η (eta, lr, learning rate) anywhere in the book."""
    from sheetgen.verify.read.tables import eta_label

    found = set()
    for sheet in book.sheets:
        for (row, col), value in sheet.values.text_items():
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


def _eta_column(table: Table, sheet) -> int | None:
    """The column holding η on every row: a column of the table's rows headed η (eta, lr, …)."""
    from sheetgen.verify.read.tables import eta_label

    if sheet is None or not table.rows:
        return None
    first, last = min(table.columns.values()), max(table.columns.values())
    for col in range(first, last + 1):
        label = sheet.values.get((table.header_row, col))
        if (
            isinstance(label, str)
            and eta_label(label)
            and isinstance(sheet.values.get((table.rows[0], col)), float)
        ):
            return col
    return None


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
        for (row, col), value in sheet.values.text_items():
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
