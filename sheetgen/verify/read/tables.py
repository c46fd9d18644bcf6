"""Find iteration tables, their learning rate and their fixed inputs in a sheet, by labels only.

Hand-made sheets put things anywhere, so nothing here uses a fixed address:
  * a header row is a run of cells whose text is a label or alias of sheetgen.columns
    (compared after normalising: case, spaces, underscores, '∂'/'δ' read as 'd', a trailing
    ':' or '=' ignored); a row may hold several tables side by side (a label repeating or a
    gap of more than MAX_GAP columns starts a new one), a sheet several tables stacked;
  * a table's rows are the rows below its header that have a number in a weight column;
  * η is a number next to (right of, or below) a cell labelled η, eta, lr, alpha, α or
    learning rate (also written "η =" or "η = 0.5" in one cell); the label nearest the
    table wins;
  * inputs and targets that are not columns (i1, i2, t1, t2) are taken from labelled
    cells elsewhere in the workbook, the same sheet first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sheetgen.core.columns import ALL_COLUMNS, BY_KEY, COLUMNS
from sheetgen.core.oracle import BIASES, INPUTS, WEIGHTS
from sheetgen.core.xlsx import Book, ErrorValue, Sheet, address

MAX_GAP = 4  # empty header cells allowed between two labels of one table (unknown labels cost nothing)
MIN_KEYS = 6  # recognised labels a header needs (fewer is prose, a legend or a parameter block)


def normalize(text: str) -> str:
    """Fold a header label: 'E_Total ' -> 'etotal', '∂E/∂w₁' -> 'de/dw1', 'a_{h1}' -> 'ah1'."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()  # NFKC: subscript ₁ -> 1
    folded = folded.replace("∂", "d").replace("δ", "d")
    folded = re.sub(r"[\s_·{}$]+", "", folded)  # spaces, underscores, LaTeX braces and dollars
    return folded.rstrip(":=")


def _label_map() -> dict[str, str]:
    labels: dict[str, str] = {}
    for column in ALL_COLUMNS:  # every variant's labels: b1, b2, ∂E/∂b1 besides the course's
        for spelling in (column.key, column.label, *column.aliases):
            folded = normalize(spelling)
            if labels.setdefault(folded, column.key) != column.key:
                raise ValueError(f"label {spelling!r} would mean both {labels[folded]} and {column.key}")
    return labels


LABELS = _label_map()
_TRAILING_NOTE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")


def lookup(text: str) -> str | None:
    """The column key a header text means, or None.

    Besides the labels themselves, a header may carry a note ('w1 (i1→h1)', 'E_total [loss]') or
    its own equation ('h1 = w1*i1 + w2*i2'): the label before the note or the '=' counts.
    """
    if _WEIGHT_STEP.match(unicodedata.normalize("NFKC", text).strip()):
        return None  # Δw1 is the step η·∂E/∂w1, not the gradient: what it is, its formula says
    key = LABELS.get(normalize(text))
    if key is None:
        bare = _TRAILING_NOTE.sub("", text)
        if bare != text and bare.strip():
            key = LABELS.get(normalize(bare))
    if key is None and "=" in text.strip().rstrip("="):
        key = LABELS.get(normalize(text.split("=", 1)[0]))
    if key is None:
        key = _gradient_shorthand(normalize(text))
    return key


_WEIGHT_STEP = re.compile(r"^Δ\s*[wW]\s*_?\{?\d")  # capital delta: a change, as Δw1 = η·∂E/∂w1

# Course sheets write ∂E/∂w1 as E∂w1, E𝝏w1 (U+1D74F, folded to ∂ by NFKC), Edw1 or just dw1.
_SHORT_GRADIENT = re.compile(r"^(?:e|etotal|etot|et)?d(w\d+)$")


def _gradient_shorthand(folded: str) -> str | None:
    match = _SHORT_GRADIENT.match(folded)
    key = f"dE_d{match.group(1)}" if match else None
    return key if key in LABELS.values() else None


UPDATED = "new_"  # prefix of the key of a column holding a row's updated weight: new_w1 = w1 − η·∂E/∂w1
_UPDATED_LABEL = re.compile(
    r"^(?:new|updated|next)(w[1-8])$|^(w[1-8])(?:new|updated|next|'|′|\+|\(new\)|\(t\+1\))$"
)


def updated_weight(text: str) -> str | None:
    """'w1 new', 'new w1', "w1'", 'w1(t+1)', 'updated w1' -> 'w1' (a column of updated weights)."""
    match = _UPDATED_LABEL.match(normalize(text))
    return (match.group(1) or match.group(2)) if match else None


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# ɳ (U+0273) and ƞ (U+019E) are typed for η where a keyboard or font lacks it.
# Course sheets in other languages: Lernrate, taux d'apprentissage, tasa / taxa / tasso di apprendimento.
_ETA_NAME = (
    r"(?:η|ɳ|ƞ|eta|lr|alpha|α|learning ?rate|lernrate|taux d'apprentissage|tasa de aprendizaje"
    r"|taxa de aprendizagem|tasso di apprendimento)"
)
_ETA = re.compile(rf"^{_ETA_NAME}(?: ?\({_ETA_NAME}\))? ?[:=]? ?({_NUMBER})?$")
_ASSIGNMENT = re.compile(rf"^(\S{{1,12}}?) ?[:=] ?({_NUMBER})$")  # "i1 = 0.05" in one cell


def eta_label(text: str) -> bool:
    """Whether a cell's text labels η (η, eta, lr, alpha, learning rate), without a number in it."""
    match = _ETA.match(_fold_eta(text))
    return bool(match) and not match.group(1)


def _fold_eta(text: str) -> str:
    """'Learning_Rate (η):' -> 'learning rate (η):' so one pattern covers the spellings."""
    return re.sub(r"[\s_]+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


@dataclass
class Table:
    sheet: str
    header_row: int
    columns: dict[str, int]  # key -> column number
    headers: dict[str, str]  # key -> the label as written in the sheet
    rows: list[int] = field(default_factory=list)
    eta: float | None = None
    eta_source: str = ""  # e.g. "cell B2"; empty when η must be inferred
    params: dict[str, float] = field(default_factory=dict)  # inputs/targets found outside the table
    param_sources: dict[str, str] = field(default_factory=dict)
    # Columns under an input's label that another column has too (the t2 column headed "i2"):
    # col -> that label's key. What they are, the formulas reading them decide (identify.py);
    # assign_spare reads the ones they do not decide by their labels.
    spare: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # how the table was read where its labels disagree
    # The last column of its header, counting the unknown labels right of its last known one (Δw1 …)
    last_col: int = 0

    @property
    def address(self) -> str:
        return address(self.header_row, min(self.columns.values()))

    def label(self, key: str) -> str:
        """The header the sheet gives quantity `key`, or the column table's label if it has no column."""
        return self.headers.get(key, BY_KEY[key].label)

    def missing(self) -> list[str]:
        """Keys of the columns this table lacks (inputs found as labelled cells are not missing)."""
        return [
            c.key
            for c in COLUMNS
            if c.key not in self.columns and c.key not in self.params and c.key != "iteration"
        ]


def is_number(value) -> bool:
    return isinstance(value, float)


def _label_cells(sheet: Sheet) -> dict[int, list[tuple[int, str, str]]]:
    """Row -> [(col, key, text)] for every cell whose text is a recognised column label."""
    found: dict[int, list[tuple[int, str, str]]] = {}
    for (row, col), value in sheet.values.text_items():
        if isinstance(value, str) and not isinstance(value, ErrorValue) and len(value) < 40:
            weight = updated_weight(value)
            key = UPDATED + weight if weight else lookup(value)
            if key:
                found.setdefault(row, []).append((col, key, value.strip()))
    return found


# Besides weights, a table of its own has inputs or quantities computed in the row (a block of
# weights alone, or with an error column, is a table's updated weights).
_TABLE_EVIDENCE = set(INPUTS) | {c.key for c in COLUMNS if c.formula and c.key not in WEIGHTS} - {"E_total"}


def _split_header(
    cells: list[tuple[int, str, str]], labelled: set[int] = frozenset()
) -> list[list[tuple[int, str, str]]]:
    """Cut a header row into tables: at a gap of more than MAX_GAP empty header cells (columns under
    labels verify does not know, `labelled`, are no gap: a student's δ or a(1−a) columns), or where a
    label repeats (but an input's label among the inputs leading a table, before its weights).

    A part with fewer than four weights, or with weights but no inputs or computed quantities, is
    not a table of its own (a block of updated weights, a second "Error" column, the backward pass
    after a blank gap): it stays with the table on its left, where a weight label right of its
    gradient is that row's updated weight and other repeated labels are ignored.
    """
    parts: list[list[tuple[int, str, str]]] = []
    for cell in sorted(cells):
        current = parts[-1] if parts else None
        keys = [k for _, k, _ in current or ()]
        # An input label again among the inputs leading a table (the t2 column headed "i2") is that
        # table's; after its weights, it starts the next table side by side.
        shared = cell[1] in INPUTS and not set(keys) & set(WEIGHTS)
        repeated = cell[1] in keys and not shared
        gap = current and sum(1 for c in range(current[-1][0] + 1, cell[0]) if c not in labelled)
        if current is None or gap > MAX_GAP or repeated:
            parts.append([cell])
        else:
            current.append(cell)
    groups: list[list[tuple[int, str, str]]] = []
    for part in parts:
        keys = {key for _, key, _ in part}
        if groups and (len(keys & set(WEIGHTS)) < 4 or not keys & _TABLE_EVIDENCE):
            groups[-1].extend(part)
        else:
            groups.append(part)
    return groups


def _rows_below(sheet: Sheet, header_row: int, columns: dict[str, int]) -> list[int]:
    probe = [columns[w] for w in WEIGHTS if w in columns] or list(columns.values())
    rows, row, skipped = [], header_row + 1, 0
    while True:
        if any(
            is_number(v) or isinstance(v, ErrorValue) for v in (sheet.values.get((row, c)) for c in probe)
        ):
            rows.append(row)
        elif not rows and skipped < 2 and all(sheet.values.get((row, c)) in (None, "") for c in probe):
            skipped += 1  # a blank line between header and data
        else:
            return rows
        row += 1


def find_tables(sheet: Sheet) -> list[Table]:
    """Every iteration table of a sheet, in reading order."""
    tables = []
    found = _label_cells(sheet)
    labelled: dict[int, set[int]] = {}  # header row -> columns with any text in it
    for (row, col), value in sheet.values.text_items():
        if row in found and isinstance(value, str) and value.strip():
            labelled.setdefault(row, set()).add(col)
    for row, cells in sorted(found.items()):
        for group in _split_header(cells, labelled.get(row, set())):
            keys = {key for _, key, _ in group}
            if len(keys) < MIN_KEYS or not keys & (set(WEIGHTS) | {"E_total", "a_o1", "a_o2"}):
                continue
            columns: dict[str, int] = {}
            headers: dict[str, str] = {}
            for col, key, text in group:  # the first column of a repeated label is the one read
                if key in columns and key in WEIGHTS and col > columns.get("dE_dw" + key[1:], 10**6):
                    key = UPDATED + key  # a weight again, right of its gradient: the updated weight
                columns.setdefault(key, col)
                headers.setdefault(key, text)
            spare = _shared_input_labels(group)
            for key in set(spare.values()):
                del columns[key], headers[key]
            table = Table(sheet.name, row, columns, headers, spare=spare)
            table.last_col = _header_end(sheet, row, max(col for col, _, _ in group), found[row])
            table.rows = _rows_below(sheet, row, table.columns)
            if table.rows:
                tables.append(table)
    return tables


def _header_end(sheet: Sheet, row: int, col: int, known: list[tuple[int, str, str]]) -> int:
    """The last column of a header whose last known label is in `col`: unknown labels right of it
    (Δw1 …, not η's) are its columns too, up to an empty cell or the next table's known label."""
    taken = {c for c, _, _ in known}
    while True:
        text = sheet.values.get((row, col + 1))
        if col + 1 in taken or not isinstance(text, str) or not text.strip() or eta_label(text):
            return col
        col += 1


def _shared_input_labels(group: list[tuple[int, str, str]]) -> dict[int, str]:
    """col -> key of the columns of a header whose input label (i1, i2, t1, t2) another column has too."""
    cols: dict[str, list[int]] = {}
    for col, key, _ in group:
        if key in INPUTS:
            cols.setdefault(key, []).append(col)
    return {col: key for key, found in cols.items() if len(found) > 1 for col in found}


def assign_spare(table: Table, sheet: Sheet) -> None:
    """Read the shared-label columns the formulas did not place by their labels, the first of each."""
    for col, key in sorted(table.spare.items()):
        if key not in table.columns:
            table.columns[key] = col
            text = sheet.values.get((table.header_row, col)) if sheet is not None else None
            table.headers[key] = text.strip() if isinstance(text, str) else key
    table.spare.clear()


def _number_near(sheet: Sheet, row: int, col: int) -> tuple[float, tuple[int, int]] | None:
    """The number right of a label (skipping one empty cell), else the one below it."""
    for spot in ((row, col + 1), (row, col + 2), (row + 1, col)):
        value = sheet.values.get(spot)
        if is_number(value):
            return value, spot
        if value not in (None, "") and spot == (row, col + 1):
            continue  # a unit or another label on the right: look below instead
    return None


def _distance(table: Table, row: int, col: int) -> int:
    left, right = min(table.columns.values()), max(max(table.columns.values()), table.last_col)
    last = table.rows[-1] if table.rows else table.header_row
    drow = 0 if table.header_row <= row <= last else min(abs(row - table.header_row), abs(row - last))
    dcol = 0 if left <= col <= right else min(abs(col - left), abs(col - right))
    return drow + dcol


def find_eta(sheet: Sheet, table: Table) -> None:
    """Set table.eta from the labelled η cell nearest to the table, if there is one."""
    best = None
    for (row, col), value in sheet.values.text_items():
        if not isinstance(value, str) or len(value) > 40:
            continue
        match = _ETA.match(_fold_eta(value))
        if not match:
            continue
        if match.group(1):
            candidate = (float(match.group(1)), f"cell {address(row, col)} ('{value.strip()}')")
        else:
            near = _number_near(sheet, row, col)
            if near is None:
                continue
            candidate = (near[0], f"cell {address(*near[1])}")
        rank = _distance(table, row, col)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    if best:
        table.eta, table.eta_source = best[1]


def find_params(book: Book, sheet: Sheet, table: Table, header_cells: set[tuple[str, int, int]]) -> None:
    """Inputs/targets (and biases, if labelled) the table has no column for, from labelled cells
    (this sheet first)."""
    wanted = [k for k in INPUTS + BIASES if k not in table.columns]
    for other in [sheet] + [s for s in book.sheets if s is not sheet]:
        for (row, col), value in other.values.text_items():
            if not wanted:
                return
            if not isinstance(value, str) or (other.name, row, col) in header_cells:
                continue
            assignment = _ASSIGNMENT.match(value.strip())
            if assignment and LABELS.get(normalize(assignment.group(1))) in wanted:
                key, near = LABELS[normalize(assignment.group(1))], (float(assignment.group(2)), (row, col))
            else:
                key = LABELS.get(normalize(value))
                near = _number_near(other, row, col) if key in wanted else None
            if near is not None:
                table.params[key] = near[0]
                where = "" if other is sheet else f"'{other.name}'!"
                table.param_sources[key] = where + address(*near[1])
                wanted.remove(key)


def header_cells(tables: list[Table]) -> set[tuple[str, int, int]]:
    """(sheet, row, col) of every label cell in a table header, so they are not mistaken for parameters."""
    return {(t.sheet, t.header_row, col) for t in tables for col in (*t.columns.values(), *t.spare)}


def find_all(book: Book) -> list[Table]:
    """Every table of every sheet, each with its η and outside inputs filled in where labelled."""
    tables = [table for sheet in book.sheets for table in find_tables(sheet)]
    headers = header_cells(tables)
    for table in tables:
        sheet = book.sheet(table.sheet)
        find_eta(sheet, table)
        find_params(book, sheet, table, headers)
        if _distrust_input_labels(table):
            find_params(book, sheet, table, headers)
    return tables


def _distrust_input_labels(table: Table) -> bool:
    """When an input has neither a column nor a labelled cell, yet other input columns are labelled,
    a label may be wrong (the t2 column headed "i2" beside a labelled i2 cell): every input column
    is then left for the formulas reading it to place (identify.py), as a shared label's are."""
    given = set(table.columns) | set(table.params) | set(table.spare.values())
    if all(k in given for k in INPUTS) or not any(k in table.columns for k in INPUTS):
        return False
    for key in INPUTS:
        if key in table.columns:
            table.spare[table.columns.pop(key)] = key
            table.headers.pop(key, None)
    return True
