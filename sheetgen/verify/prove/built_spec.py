"""A book `sheetgen build` wrote for a network other than the course's, checked by the spec it records.

Such a book carries its spec (custom property "network", core.spec.NetworkSpec.recorded). Its
Inputs sheet gives the initial values (a label in A, its value in B) and, with several samples,
the samples table (a header "Sample", i1.., t1.., a row per sample); each LR sheet has its η in
B2 and the spec's column table from its "Iteration" header on. So:

- values: every table cell equals the oracle (core.oracle.train_spec) trained from the Inputs
  values as recalculated, with the sheet's η;
- formulas: each cell's formula is read as quantities (a column of its row or of the row above,
  η, an Inputs value) and evaluated at random points where every quantity has its own value,
  against the oracle (a formula right only at the sheet's own numbers is found so); an online
  row's INDEX into the samples table must read its own column with the row's sample number;
- and what every built book promises (verify.built: formulas everywhere, saved values equal
  the recalculation, charts).

The course's 2-2-2 books (and hand-made ones) take the general path through verify.tables.
"""

from __future__ import annotations

import math
import re

import numpy as np

from sheetgen.core import formula, oracle
from sheetgen.core.columns import spec_columns
from sheetgen.core.layout import INPUTS_SHEET, is_lr_sheet
from sheetgen.core.spec import NetworkSpec, sample_key
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import Book, address
from sheetgen.verify.prove import built, spec_fixes
from sheetgen.verify.prove.checks import Finding, TableCheck
from sheetgen.verify.prove.proof import Unproven
from sheetgen.verify.read.tables import Table

WORLDS = 6
ETA_CELL = (2, 2)  # B2 of an LR sheet
_CELL = re.compile(r"(\$?)([A-Z]{1,3})(\$?)(\d+)")


def _inputs(book: Book) -> tuple[dict[str, float], dict[tuple[int, int], str], list[dict[str, float]]]:
    """The Inputs sheet's labelled values, each value cell's key (i1_s2 for the samples table), the "
    "samples."""
    sheet = book.sheet(INPUTS_SHEET)
    if sheet is None:
        return {}, {}, []
    values, cells, samples = {}, {}, []
    header_row = next((r for (r, c), v in sheet.values.text_items() if c == 1 and v == "Sample"), None)
    for (row, col), text in sheet.values.text_items():
        if col == 1 and (header_row is None or row < header_row):
            value = sheet.values.get((row, 2))
            if isinstance(value, float):
                values[text] = value
                cells[(row, 2)] = text
    if header_row is not None:
        names = {}
        for (row, col), text in sheet.values.text_items():
            if row == header_row and col > 1:
                names[col] = text
        row = header_row + 1
        while isinstance(sheet.values.get((row, 1)), float):
            sample = {}
            for col, name in names.items():
                sample[name] = sheet.values.get((row, col))
                cells[(row, col)] = f"{name}_s{row - header_row}"
            samples.append(sample)
            row += 1
    return values, cells, samples


def read_spec(book: Book) -> NetworkSpec | None:
    """The spec a built book records, with its samples as its Inputs sheet now holds them; None when the book
    records none (an older build, a hand-made book) or the course's network, which the general path checks."""
    text = book.properties.get("network")
    if not text or not built.is_built(book):
        return None
    _, _, samples = _inputs(book)
    try:
        pairs = None
        if samples:
            n_in = sum(1 for k in samples[0] if k.startswith("i"))
            n_t = sum(1 for k in samples[0] if k.startswith("t"))
            pairs = tuple(
                (
                    tuple(float(s[f"i{k}"]) for k in range(1, n_in + 1)),
                    tuple(float(s[f"t{k}"]) for k in range(1, n_t + 1)),
                )
                for s in samples
            )
        spec = NetworkSpec.from_recorded(text, pairs)
    except (ValueError, TypeError, KeyError):
        return None
    return None if spec.is_course() else spec


class _Forms:
    """A cell's formula read as quantities: the row's own columns, the row above's, η, Inputs values."""

    def __init__(self, spec: NetworkSpec, columns, input_cells: dict[tuple[int, int], str], sheet_name: str):
        self.spec, self.columns, self.input_cells, self.sheet_name = spec, columns, input_cells, sheet_name
        self.compiled: dict[tuple[int, str], object] = {}

    def read(self, text: str, row: int, col: int):
        """A compiled function of a world, or a string saying why the formula cannot be read."""
        relative = _CELL.sub(
            lambda m: (
                m.group(1)
                + m.group(2)
                + m.group(3)
                + (m.group(4) if m.group(3) else f"@{int(m.group(4)) - row}")
            ),
            text,
        )
        key = (col, relative)
        if key not in self.compiled:
            self.compiled[key] = self._compile(text, row)
        return self.compiled[key]

    def _compile(self, text: str, row: int):
        try:
            tree = formula.parse(text)
        except formula.FormulaError as error:
            return f"cannot be read: {error}"
        problems = []
        tree = self._quantities(tree, row, problems)
        if problems:
            return problems[0]
        if isinstance(tree, formula.Call) and tree.name == "INDEX":
            return ("index", text)
        try:
            return formula.compile_tree(tree)
        except formula.Unsupported as error:
            return f"cannot be proven: {error}"

    def tree(self, text: str, row: int):
        """The formula as quantities, a cell no quantity names being a quantity of its own ("cell:…", as
        another sheet's η): what the smallest fix is searched on; None when it cannot be read."""
        try:
            tree = formula.parse(text)
        except formula.FormulaError:
            return None
        problems: list[str] = []
        return self._quantities(tree, row, problems, lenient=True)

    def _quantities(self, tree, row: int, problems: list, lenient: bool = False):
        def other(node):
            sheet = node.sheet or self.sheet_name
            return formula.Var(f"cell:'{sheet}'!{address(node.row, node.col)}")

        def quantity(node):
            if isinstance(node, formula.Area):
                return formula.Var("area")  # only INDEX's table reads a range; checked by _index_form
            if not isinstance(node, formula.Ref):
                return None
            if node.sheet == INPUTS_SHEET:
                name = self.input_cells.get((node.row, node.col))
                if name is None:
                    problems.append(
                        f"reads {address(node.row, node.col)} of the Inputs sheet, which holds no value"
                    )
                    return other(node) if lenient else formula.Num(float("nan"))
                return formula.Var(f"param:{name}")
            if node.sheet not in (None, self.sheet_name):
                problems.append(f"reads sheet {node.sheet}")
                return other(node) if lenient else formula.Num(float("nan"))
            if (node.row, node.col) == ETA_CELL:
                return formula.Var("eta")
            if not 1 <= node.col <= len(self.columns) or node.row not in (row, row - 1):
                problems.append(f"reads {address(node.row, node.col)}, outside its row and the row above")
                return other(node) if lenient else formula.Num(float("nan"))
            name = self.columns[node.col - 1].key
            return formula.Var(name if node.row == row else f"prev:{name}")

        return formula.transform(tree, quantity)


def _worlds(spec: NetworkSpec, first: bool, rng) -> tuple[dict, dict]:
    """K random points: the env a formula reads (this row, the row above, η, Inputs) and the expected row."""
    k = WORLDS
    free_names = spec.weights + spec.bias_names

    def data(prefix=""):
        d = {}
        for block in range(1, spec.blocks + 1):
            for i in spec.inputs:
                d[sample_key(i, block, spec)] = rng.uniform(-1, 1, k)
            for t in spec.targets:
                d[sample_key(t, block, spec)] = rng.uniform(0.05, 0.95, k)
        return d

    eta = rng.uniform(0.1, 1.0, k)
    prev_free = {n: rng.uniform(-1, 1, k) for n in free_names}
    prev_data = data()
    prev = oracle.evaluate_spec(spec, prev_free | prev_data)
    if first:
        free = {n: rng.uniform(-1, 1, k) for n in free_names}
    else:
        free = {n: prev[n] - eta * prev[f"dE_d{n}"] if n in spec.free else prev[n] for n in free_names}
    this_data = (
        prev_data if spec.samples is not None and spec.batch == "full" or spec.samples is None else data()
    )
    row = oracle.evaluate_spec(spec, free | this_data)
    iteration = rng.integers(1, 1000, k).astype(float)
    row["iteration"] = iteration
    if spec.samples is not None and spec.batch == "online":
        row["sample"] = np.mod(iteration, spec.n_samples) + 1
    env = dict(row) | {f"prev:{n}": v for n, v in prev.items()} | {"eta": eta}
    # The Inputs values: the first row's own; later, fixed biases and a single sample's data stay the row's,
    # and the initial weights are values of their own (a later row reading them is wrong).
    for n in free_names:
        env[f"param:{n}"] = free[n] if first or n not in spec.free else rng.uniform(-1, 1, k)
    for name, v in this_data.items():
        env[f"param:{name}"] = v
        if spec.n_samples == 1 and spec.samples is not None:
            env[f"param:{name}_s1"] = v  # a single sample's i1 is read from the samples table's cell i1_s1
    if spec.samples is not None:
        for s, (x, t) in enumerate(spec.samples, start=1):
            for name, v in zip(spec.inputs + spec.targets, x + t, strict=True):
                env.setdefault(f"param:{name}_s{s}", np.full(k, v))
    return env, row


def _index_form(text: str, key: str, row: int, columns, input_cells) -> bool:
    """An online row's input or target: INDEX(Inputs!<its samples column>, <this row's Sample cell>)."""
    match = re.fullmatch(
        r"INDEX\(Inputs!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+),\s*([A-Z]+)(\d+)\)", text.replace(" ", "")
    )
    if not match:
        return False
    from sheetgen.core.xlsx import column_number

    col, top, col2, bottom, sample_col, sample_row = match.groups()
    names = {input_cells.get((r, column_number(col))) for r in range(int(top), int(bottom) + 1)}
    sample_ok = columns[column_number(sample_col) - 1].key == "sample" and int(sample_row) == row
    return (
        col == col2 and names == {f"{key}_s{n}" for n in range(1, int(bottom) - int(top) + 2)} and sample_ok
    )


def _check_sheet(
    book: Book, original: Book, sheet_name: str, spec: NetworkSpec, params, input_cells, tol, rng
):
    sheet, source = book.sheet(sheet_name), original.sheet(sheet_name)
    columns = spec_columns(spec)
    header_row = next((r for (r, c), v in sheet.values.text_items() if c == 1 and v == "Iteration"), None)
    if header_row is None:
        return None, f"'{sheet_name}' has no table headed Iteration"
    labels = [sheet.values.get((header_row, c)) for c in range(1, len(columns) + 1)]
    if labels != [c.label for c in columns]:
        wrong = next(c for c, (a, b) in enumerate(zip(labels, columns, strict=True), start=1) if a != b.label)
        return None, (
            f"'{sheet_name}'!{address(header_row, wrong)} is headed {labels[wrong - 1]!r}; the "
            "book's network has "
            f"{columns[wrong - 1].label!r} there"
        )
    rows = []
    r = header_row + 1
    while isinstance(sheet.values.get((r, 1)), float):
        rows.append(r)
        r += 1
    eta = sheet.values.get(ETA_CELL)
    table = Table(
        sheet_name,
        header_row,
        {c.key: n for n, c in enumerate(columns, start=1)},
        {c.key: c.label for c in columns},
        rows,
        eta if isinstance(eta, float) else None,
        "cell B2",
    )
    check = TableCheck(
        table, len(rows), True, 0.0, eta=table.eta, eta_note="η = %g from cell B2" % (eta or 0)
    )
    if len(rows) < 2 or not isinstance(eta, float):
        check.verified = False
        check.incomplete = "a single row (no weight update)" if len(rows) < 2 else "no η in cell B2"
        return check, None
    with np.errstate(all="ignore"):
        expected = oracle.train_spec(spec, params, eta, len(rows) - 1)
    forms = _Forms(spec, columns, input_cells, sheet_name)
    proven: dict[object, bool] = {}
    empty_columns = []
    for col, column in enumerate(columns, start=1):
        if column.formula is None:
            continue
        found = np.array([_number(sheet.values.get((r, col))) for r in rows])
        if all(sheet.values.get((r, col)) in (None, "") for r in rows):
            empty_columns.append(column.label)
            continue
        want = expected[column.key]
        ok = close(found, want, tol)
        errors = np.abs(found - want) / np.maximum(np.abs(want), 1e-3)
        check.max_rel_error = max(
            check.max_rel_error, float(np.nanmax(np.where(np.isfinite(errors), errors, 0)))
        )
        bad = np.flatnonzero(~ok)
        if bad.size:
            n = int(bad[0])
            finding = Finding(
                sheet_name,
                address(rows[n], col),
                column.key,
                column.label,
                float(want[n]),
                sheet.values.get((rows[n], col)),
                source.formula(rows[n], col) if source else None,
                None,
                rows[n],
            )
            check.wrong_cells.append(finding)
            check.wrong_columns.append(column.label)
            continue
        for n, r in enumerate(rows):
            text = source.formula(r, col) if source else None
            if text is None:
                continue  # a typed value: verify.built reports it
            compiled = forms.read(text, r, col)
            key = (id(compiled), n == 0)
            if key in proven:
                continue
            proven[key] = _prove(compiled, text, column.key, r, n == 0, spec, columns, input_cells, rng)
            if proven[key] is not True:
                check.unproven.append(
                    Unproven(
                        sheet_name,
                        address(r, col),
                        column.label,
                        "unproven",
                        None,
                        None,
                        f"'{sheet_name}'!{address(r, col)} ({column.label}) ={text}: {proven[key]}",
                    )
                )
                break
    check.proven_forms = sum(v is True for v in proven.values())
    if check.wrong_cells:
        check.wrong_cells.sort(key=lambda f: (f.row, table.columns[f.key]))
        check.first_wrong = check.wrong_cells[0]
        check.first_wrong.diagnosis = _diagnosis(check.first_wrong, forms, rows, spec, table, rng)
        for later in check.wrong_cells[1:]:  # wrong because what they read is: say so, not "no mistake fits"
            if later.formula:
                compiled = forms.read(later.formula, later.row, table.columns[later.key])
                first = later.row == rows[0]
                if (
                    _prove(
                        compiled, later.formula, later.key, later.row, first, spec, columns, input_cells, rng
                    )
                    is True
                ):
                    later.diagnosis = "its formula is right: a cell it reads is wrong"
    if empty_columns:
        check.incomplete = f"nothing computed yet in {', '.join(empty_columns)}"
    check.verified = not (check.first_wrong or check.unproven or check.incomplete)
    return check, None


def _diagnosis(finding: Finding, forms: _Forms, rows: list[int], spec: NetworkSpec, table, rng) -> str | None:
    """The smallest edit that makes the first wrong cell's formula compute its quantity (spec_fixes.py)."""
    if not finding.formula:
        return "a typed value where a formula belongs"
    tree = forms.tree(finding.formula, finding.row)
    if tree is None:
        return None
    first = finding.row == rows[0]
    cells = [n.name for n in formula.walk(tree) if isinstance(n, formula.Var) and n.name.startswith("cell:")]
    worlds = {}
    for at_first in (True, False):
        env, _ = _worlds(spec, at_first, rng)
        worlds[at_first] = spec_fixes.world_values(env, cells, rng)
    return spec_fixes.smallest_fix(tree, finding.key, first, worlds, table)


def _number(value) -> float:
    return value if isinstance(value, float) else math.nan


def _prove(compiled, text, key, row, first, spec, columns, input_cells, rng):
    """True when the formula computes its column's quantity at random points, else why not."""
    if isinstance(compiled, str):
        return compiled
    if isinstance(compiled, tuple):
        return (
            True if _index_form(text, key, row, columns, input_cells) else "an INDEX that reads another cell"
        )
    env, expected = _worlds(spec, first, rng)
    with np.errstate(all="ignore"):
        try:
            got = np.asarray(compiled(env), dtype=float)
        except KeyError as missing:
            return f"reads {missing}, which this network has no value for"
    want = expected[key]
    if close(got, want, 1e-9).all():
        return True
    return "its formula differs from the network's for other inputs (right only at the sheet's numbers)"


def judge(result, original: Book, values: Book, engine: str, tol: float) -> bool:
    """Fill `result` (a report.BookResult) for a book built for `read_spec`'s network; False when it "
    "is not one."""
    spec = read_spec(values)
    if spec is None:
        return False
    params, input_cells, _ = _inputs(values)
    missing = [k for k in spec.initial_values if k not in params]
    if missing:
        result.error = (
            f"its Inputs sheet lacks {', '.join(missing[:5])}, which its network ({spec.describe()}) needs"
        )
        return True
    rng = np.random.default_rng(20261202)
    tables = []
    for sheet in values.sheets:
        if not is_lr_sheet(sheet.name):
            continue
        check, problem = _check_sheet(values, original, sheet.name, spec, params, input_cells, tol, rng)
        if problem:
            result.problems.append(problem)
        if check is not None:
            result.tables.append(check)
            tables.append(check.table)
    if not tables and not result.problems:
        result.error = "no LR sheet with an iteration table"
        return True
    result.notes.append(f"network {spec.describe()}, read from the spec the book records")
    problems = built.check_built(original, values if engine == "libreoffice" else None, tables, tol)
    if any(check.incomplete for check in result.tables):  # an exercise: empty cells are not typed values
        problems = [p for p in problems if "holds a typed value" not in p]
    result.problems.extend(problems)
    if not result.problems:
        saved = "saved values equal LibreOffice's, " if engine == "libreoffice" else ""
        result.notes.append(
            f"written by {original.properties['generator']}: every computed cell is a formula, {saved}"
            "every LR sheet and the Summary have their charts"
        )
    return True
