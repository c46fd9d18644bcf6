"""Identify a table's columns by what their formulas compute, not by their headers.

A header the label table does not know (E∂w1, dw1, "delta o1", or anything else) still names a
quantity when the column's formula proves to compute one at the random worlds of the proof. Each
identification can make other formulas readable (a gradient reading a δ column), so it repeats
until nothing new is found. A column already identified by its label is never re-read.
"""

from __future__ import annotations

import itertools

import numpy as np

from sheetgen.core import formula, oracle
from sheetgen.core.columns import BY_KEY, COLUMNS
from sheetgen.core.intermediates import LABELS as TERM_LABELS
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import column_letters, column_number
from sheetgen.verify.prove.forms import Reader, Unmapped
from sheetgen.verify.prove.proof import PROOF_TOL, Prover, TableProof
from sheetgen.verify.prove.worlds import split_var
from sheetgen.verify.read.tables import UPDATED


def _candidate_keys(reader: Reader) -> list[str]:
    """Quantities a column may compute, in the order a tie is resolved: the column table's first."""
    at_zero = [split_var(name)[0] for name in reader.world(False).values if name.endswith("@0")]
    ordered = [c.key for c in COLUMNS if c.key in at_zero and c.key != "iteration"]
    ordered += [k for k in at_zero if k.startswith(UPDATED)]
    ordered += [k for k in TERM_LABELS if k in at_zero]
    ordered += [k for k in at_zero if k not in ordered]
    return ordered


def _unknown_columns(reader: Reader) -> list[int]:
    """Columns with formulas in the table's rows that no header placed."""
    table, sheet = reader.table, reader.sheet
    probe_rows = set(table.rows[:2])
    cols = {col for (row, col) in sheet.formulas if row in probe_rows}
    # Another table side by side: its labelled columns are its own, not this table's unknowns.
    others = {col for (name, _, col) in reader.header_cells if name == table.sheet} - set(table.spare)
    cols |= set(table.spare)  # typed inputs under a shared label: placed by the formulas reading them
    cols.discard(reader.eta_column)  # η on every row: an input, read as η wherever a formula reads it
    # Tables side by side in one header row: a table's unknown columns lie between its first column
    # and the next table's first (the unknown columns right of the last label are the left table's).
    own = set(table.columns.values())
    beside = {
        col for (name, row, col) in reader.header_cells if name == table.sheet and row == table.header_row
    }
    beside -= own | set(table.spare)
    right = min((c for c in beside if c > max(own)), default=None)
    left = min(own) if any(c < min(own) for c in beside) else None
    return sorted(
        c
        for c in cols
        if c not in reader.col_keys
        and c not in others
        and (right is None or c < right)
        and (left is None or c > left)
    )


def _what_it_computes(reader: Reader, prover: Prover, col: int, keys: list[str]) -> str | None:
    table = reader.table
    index = 1 if len(table.rows) > 1 else 0
    try:
        tree = reader.form(table.rows[index], col)
        got = prover.evaluate(tree, index == 0)
    except (Unmapped, formula.Unsupported, formula.FormulaError, KeyError, ValueError):
        return None
    values = reader.world(index == 0).values
    for key in keys:
        expected = values.get(f"{key}@0")
        if expected is not None and np.all(close(got, expected, PROOF_TOL)):
            return key
    return None


def _by_use(reader: Reader, prover: Prover, col: int, keys: list[str]) -> str | None:
    """The quantity an unidentified column holds, as the identified columns that read it use it.

    w3's update reads the row above's ∂E/∂w3 from it, E_total reads E2 from it: when putting one
    quantity in place of the column makes a reader's formula prove, the column is that quantity
    (even if its own formula is wrong: that is then found where it is made).
    """
    table = reader.table
    unknown = f"?{column_letters(col)}@"
    for reader_col, reader_key in sorted(reader.col_keys.items()):
        for index in sorted({0, min(1, len(table.rows) - 1)}):
            row = table.rows[index]
            try:
                tree = reader.form(row, reader_col)
            except (Unmapped, formula.Unsupported, formula.FormulaError):
                continue
            names = {n.name for n in formula.walk(tree) if isinstance(n, formula.Var)}
            reads = [n for n in names if n.startswith(unknown)]
            others = _as_labelled(
                table, [n for n in names if n.startswith("?") and not n.startswith(unknown)]
            )
            if not reads or others is None:
                continue
            for key in keys:
                guess = others | {n: f"{key}@{n.rpartition('@')[2]}" for n in reads}
                changed = formula.transform(
                    tree,
                    lambda node, guess=guess: (
                        formula.Var(guess[node.name])
                        if isinstance(node, formula.Var) and node.name in guess
                        else None
                    ),
                )
                if prover.holds(changed, reader_key, index == 0):
                    return key
    return None


def _as_labelled(table, names: list[str]) -> dict[str, str] | None:
    """Other unplaced columns a formula reads, each as its label says (an input column under a shared
    or doubted label, table.spare), so h1 = w1·?D + w2·?E can place D with E as labelled; None when
    one of them has no such label."""
    found = {}
    for name in names:
        letters, _, offset = name[1:].partition("@")
        key = table.spare.get(column_number(letters))
        if key is None:
            return None
        found[name] = f"{key}@{offset}"
    return found


ONE_EDIT_TRIES = 300  # per (column, quantity): identification by a mistake must stay cheap


def _by_one_edit(reader: Reader, prover: Prover, col: int, keys: list[str]) -> str | None:
    """The quantity a column's formula computes but for one edit (a wrong ∂E/∂w3 nothing reads)."""
    from sheetgen.verify.prove.fixes import Search

    table = reader.table
    index = 1 if len(table.rows) > 1 else 0
    try:
        tree = reader.form(table.rows[index], col)
    except (Unmapped, formula.Unsupported, formula.FormulaError):
        return None
    if any(isinstance(n, formula.Var) and n.name.startswith("?") for n in formula.walk(tree)):
        return None
    for key in keys:
        if Search(prover, tree, key, index == 0, table, max_tries=ONE_EDIT_TRIES).run():
            return key
    return None


def label(key: str) -> str:
    if key in BY_KEY:
        return BY_KEY[key].label
    if key.startswith(UPDATED):
        return f"{key.removeprefix(UPDATED)} new"
    return TERM_LABELS.get(key, key)


def _record(reader: Reader, result: TableProof, col: int, key: str) -> None:
    """Column `col` holds `key`: the reader reads it so from now on, the table checks its values."""
    table = reader.table
    header = reader.sheet.values.get((table.header_row, col))
    header = header.strip() if isinstance(header, str) else ""
    reader.col_keys[col] = key
    reader.forget_forms()
    shared = table.spare.pop(col, None)
    if shared is None:
        result.identified.append((header or "(no header)", column_letters(col), label(key)))
    elif shared != key:  # an input column whose label says another input: the formulas decide
        result.notes.append(
            f"column {column_letters(col)} is headed {header!r}, but the formulas reading it use it as "
            f"{label(key)}: read as {label(key)}"
        )
        header = label(key)
    if (key in BY_KEY or key.startswith(UPDATED)) and key not in table.columns:
        table.columns[key] = col
        table.headers[key] = header or label(key)
    elif key not in BY_KEY and not key.startswith(UPDATED):
        result.extra_columns[col] = key


def identify_columns(reader: Reader, prover: Prover, result: TableProof) -> None:
    """Add every column whose formula proves to compute a quantity to the reader (and the table)."""
    keys = _candidate_keys(reader)
    progress = True
    while progress:
        progress = False
        for col in _unknown_columns(reader):
            key = _what_it_computes(reader, prover, col, keys)
            if key is None:
                missing = [k for k in keys if k not in reader.col_keys.values()]
                key = _by_use(reader, prover, col, missing)
            if key is None:
                continue
            _record(reader, result, col, key)
            progress = True
    course = [c.key for c in COLUMNS if c.key in keys and c.key not in reader.col_keys.values()]
    read = None  # columns the identified ones read (computed once, if a column is left over)
    for col in _unknown_columns(reader):
        if col in reader.table.spare:
            continue  # typed inputs: tables.assign_spare reads them by their labels
        key = _by_one_edit(reader, prover, col, [k for k in course if k not in reader.col_keys.values()])
        if key is not None:
            _record(reader, result, col, key)
        elif col not in (reader.table.columns.get("iteration"),):
            header = reader.sheet.values.get((reader.table.header_row, col))
            shown = f"'{header.strip()}'" if isinstance(header, str) and header.strip() else "no header"
            read = _columns_read(reader) if read is None else read
            how = ": not checked" if col not in read else ", read as its formula where others read it"
            result.notes.append(
                f"column {column_letters(col)} ({shown}) computes no quantity of the network{how}"
            )


def _columns_read(reader: Reader) -> set[int]:
    """Columns of this sheet that the formulas of the identified columns read, in the table's rows."""
    table, sheet, found = reader.table, reader.sheet, set()
    for row in table.rows[:2]:
        for col in reader.col_keys:
            text = sheet.formula(row, col)
            try:
                tree = formula.parse(text) if text else None
            except formula.FormulaError:
                continue
            if tree is not None:
                try:
                    found |= {r.col for r in formula.references(tree) if r.sheet in (None, table.sheet)}
                except formula.Unsupported:  # a range too large to be read
                    continue
    return found


def swapped_inputs(reader: Reader, prover: Prover, failures: list) -> dict[int, str] | None:
    """col -> input when the input columns' labels are swapped (the t2 column headed "i2", the i2
    column headed "t2"): the assignment of the labelled inputs to the input columns under which the
    most formulas reading them prove, when that is more than under their labels; else None.

    Run only for a table whose proof failed (`failures`, proof.CellForm), so a right book pays
    nothing, and a wrong one little: only assignments that make a failing formula prove are
    scored over all the formulas, each compiled once and evaluated with the inputs renamed.
    """
    table = reader.table
    cols = {col: key for col, key in reader.col_keys.items() if key in oracle.INPUTS}
    if len(cols) < 2:
        return None
    keys = list(cols.values())

    def reads_inputs(tree) -> bool:
        return any(
            isinstance(n, formula.Var) and (split_var(n.name) or ("",))[0] in keys for n in formula.walk(tree)
        )

    def compiled(tree, key, first):
        try:
            return prover.compiled(tree), key, first
        except formula.Unsupported:
            return None

    failing = [
        compiled(f.form, f.key, f.index == 0) for f in failures if f.form is not None and reads_inputs(f.form)
    ]
    forms = []
    for col, key in reader.col_keys.items():
        if key in oracle.INPUTS:
            continue
        for index in sorted({0, min(1, len(table.rows) - 1)}):
            try:
                tree = reader.form(table.rows[index], col)
            except (Unmapped, formula.Unsupported, formula.FormulaError):
                continue
            if reads_inputs(tree):
                forms.append(compiled(tree, key, index == 0))
    failing, forms = [f for f in failing if f], [f for f in forms if f]
    if not failing or not forms:
        return None
    envs = {first: prover.environment(first) for first in (True, False)}
    named = {
        first: [(n, split_var(n)) for n in env if (split_var(n) or ("",))[0] in keys]
        for first, env in envs.items()
    }

    def proven(candidates, mapping: dict[str, str], beat: int = -1) -> int:
        """How many candidates hold under `mapping`; stops once it cannot exceed `beat`."""
        renamed = {first: _renamed(envs[first], named[first], mapping) for first in envs}
        score, left = 0, len(candidates)
        for fn, key, first in candidates:
            left -= 1
            score += prover.holds_compiled(fn, key, first, renamed[first])
            if score + left <= beat:
                return score
        return score

    best, best_mapping = None, None
    for order in itertools.permutations(keys):
        if order == tuple(keys):
            continue
        mapping = dict(zip(keys, order, strict=True))
        if not proven(failing, mapping):
            continue  # fixes none of the failing formulas
        if best is None:
            best = proven(forms, {})
        score = proven(forms, mapping, best)
        if score > best:
            best, best_mapping = score, mapping
    if best_mapping is None:
        return None
    return {col: best_mapping[key] for col, key in cols.items() if best_mapping[key] != key}


def _renamed(env: dict, named: list[tuple[str, tuple]], mapping: dict[str, str]) -> dict:
    """The world with each input column's quantity read as another's: t2@0 holds what i2@0 does.
    `named` lists the world's names of those quantities with their (key, offset)."""
    if not mapping:
        return env
    changed = dict(env)
    for name, (key, offset) in named:
        changed[name] = env[f"{mapping[key]}@{offset}"]
    return changed
