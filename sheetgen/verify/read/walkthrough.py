"""Mazur's layout: one iteration per sheet, each quantity a labelled cell, read as a table.

People who reproduce "A Step by Step Backpropagation Example" by hand write one iteration per
sheet: a label and, right of it, its value or formula (i1, w1 … b1, b2, net(h1), out(h1), E(o1),
Etotal, dEtotal/dw5 with the updated w5+ beside it); the next sheet types its inputs again or
reads them from the sheet before. Such a book has no header row, so find_tables sees nothing.

Here each such sheet becomes one row of a virtual table (iteration sheets in book order), every
formula rewritten so that a reference to a labelled cell reads that quantity's cell in the row of
its sheet, and a labelled η is one cell above the table. The virtual book then goes through the
same checks and proof as any table, and findings are mapped back to the sheet and cell they
came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sheetgen.core import formula, oracle
from sheetgen.core.cells import CellFormulas, CellValues
from sheetgen.core.columns import BY_KEY
from sheetgen.core.xlsx import Book, Sheet, address
from sheetgen.verify.read.tables import UPDATED, eta_label, lookup, updated_weight

SHEET = "Iterations"  # the virtual sheet's name
ETA_CELL = (1, 2)  # B1, right of its label
HEADER_ROW = 3
MIN_LABELS = 10  # labelled quantities a sheet needs to be an iteration


def _key(text: str) -> str | None:
    weight = updated_weight(text)
    if weight:
        return UPDATED + weight
    key = lookup(text)
    return key if key in BY_KEY and key != "iteration" else None


def labelled_cells(
    sheet: Sheet, source: Sheet | None = None, relabelled: list | None = None
) -> dict[str, tuple[int, int]]:
    """key -> (row, col) of the value cell of every labelled quantity (the first label of each key).

    A cell is what it computes before what its label says: one whose formula (in `source`, the
    sheet as saved) updates w1 from w1 and ∂E/∂w1 is the updated w1, labelled "w1+" or "w1" again
    alike; `relabelled` collects (spot, label key, key) where the label says otherwise.
    """
    candidates: list[tuple[str, tuple[int, int]]] = []
    for (row, col), value in sorted(sheet.values.text_items()):
        if not isinstance(value, str) or len(value) > 30:
            continue
        key = _key(value)
        if key is None:
            continue
        for spot in ((row, col + 1), (row, col + 2)):
            if isinstance(sheet.values.get(spot), float) or spot in sheet.formulas:
                candidates.append((key, spot))
                break
    first: dict[str, tuple[int, int]] = {}
    for key, spot in candidates:
        first.setdefault(key, spot)
    found: dict[str, tuple[int, int]] = {}
    for key, spot in candidates:
        weight = key.removeprefix(UPDATED)
        if weight not in oracle.WEIGHTS and weight not in oracle.BIASES:
            found.setdefault(key, spot)
            continue
        updated = _update_of(source or sheet, spot, first, sheet.name)
        if updated is not None and key in (updated, UPDATED + updated):
            if key == updated and relabelled is not None:
                relabelled.append((spot, key, UPDATED + updated))
            key = UPDATED + updated  # its label is the weight's own (or "w1+"); its formula, the update
        found.setdefault(key, spot)
    return found


def _unlabelled_updates(sheet: Sheet, cells: dict, relabelled: list) -> None:
    """Add the updated weights no label names (the formula right of ∂E/∂w1 with nothing beside it):
    a formula that updates w1 from w1 and ∂E/∂w1 is the updated w1."""
    missing = [w for w in (*oracle.WEIGHTS, *oracle.BIASES) if w in cells and UPDATED + w not in cells]
    if not missing:
        return
    taken = set(cells.values())
    first = {key: spot for key, spot in cells.items()}
    for spot in sorted(sheet.formulas):
        if spot in taken:
            continue
        weight = _update_of(sheet, spot, first, sheet.name)
        if weight is not None and UPDATED + weight not in cells:
            cells[UPDATED + weight] = spot
            relabelled.append((sheet.name, spot, "", UPDATED + weight))


def _update_of(sheet: Sheet, spot: tuple[int, int], first: dict, name: str) -> str | None:
    """The weight whose update the cell's formula computes (it reads the cells labelled w and ∂E/∂w
    of its own sheet: w − η·∂E/∂w, or a mistaken version the checks then find), or None."""
    text = sheet.formula(*spot)
    if text is None:
        return None
    try:
        tree = formula.parse(text)
    except formula.FormulaError:
        return None
    read = {(ref.row, ref.col) for ref in formula.references(tree) if ref.sheet in (None, name)}
    for weight in (*oracle.WEIGHTS, *oracle.BIASES):
        if first.get(weight) in read and first.get("dE_d" + weight) in read and spot != first[weight]:
            return weight
    return None


def _eta_cell(sheet: Sheet) -> tuple[int, int] | None:
    for (row, col), value in sorted(sheet.values.text_items()):
        if isinstance(value, str) and len(value) <= 40 and eta_label(value):
            spot = (row, col + 1)
            if isinstance(sheet.values.get(spot), float):
                return spot
    return None


def is_iteration(cells: dict[str, tuple[int, int]]) -> bool:
    weights = sum(w in cells for w in oracle.WEIGHTS)
    return len(cells) >= MIN_LABELS and weights >= 4 and bool({"E_total", "a_o1", "a_o2"} & set(cells))


@dataclass
class Walkthrough:
    """The virtual books and where each virtual cell came from."""

    original: Book
    values: Book
    origin: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)  # virtual cell -> sheet, A1
    sheets: list[str] = field(default_factory=list)
    relabelled: list[tuple[str, tuple, str, str]] = field(default_factory=list)  # (sheet, spot, label, key)

    def where(self, sheet: str, cell: str) -> tuple[str, str]:
        """The original (sheet, address) of a virtual cell given as (sheet name, A1 address)."""
        if sheet != SHEET:
            return sheet, cell
        tree = formula.parse(cell)
        if not isinstance(tree, formula.Ref):
            return sheet, cell
        return self.origin.get((tree.row, tree.col), (sheet, cell))


def read(original: Book, values: Book) -> Walkthrough | None:
    """The book's iteration sheets as one virtual table, or None when it has none."""
    found = []
    relabelled: list[tuple[str, tuple, str, str]] = []
    for sheet in values.sheets:
        moved: list = []
        cells = labelled_cells(sheet, original.sheet(sheet.name), moved)
        relabelled += [(sheet.name, spot, label, key) for spot, label, key in moved]
        if is_iteration(cells):
            _unlabelled_updates(original.sheet(sheet.name) or sheet, cells, relabelled)
            found.append((sheet.name, cells))
    if not found:
        return None
    keys = [c.key for c in BY_KEY.values() if any(c.key in cells for _, cells in found)]
    keys += [UPDATED + w for w in oracle.WEIGHTS + oracle.BIASES if any(UPDATED + w in c for _, c in found)]
    column = {key: n for n, key in enumerate(keys, start=1)}
    row_of = {name: HEADER_ROW + 1 + i for i, (name, _) in enumerate(found)}
    cell_of = {
        (name, *spot): (row_of[name], column[key]) for name, cells in found for key, spot in cells.items()
    }
    eta_cells = {}
    for name, _ in found:
        spot = _eta_cell(values.sheet(name))
        if spot is not None:
            eta_cells[(name, *spot)] = ETA_CELL

    walk = Walkthrough(original, values, sheets=[name for name, _ in found])
    walk.relabelled = [r for r in relabelled if r[0] in walk.sheets]
    virtual = {
        "original": Sheet(SHEET, values={}, formulas={}),
        "values": Sheet(SHEET, values={}, formulas={}),
    }
    for which in virtual.values():
        for key, col in column.items():
            label = f"{key.removeprefix(UPDATED)} new" if key.startswith(UPDATED) else BY_KEY[key].label
            which.values[(HEADER_ROW, col)] = label
    if eta_cells:
        source = next(iter(eta_cells))
        eta = values.sheet(source[0]).values.get(source[1:])
        for which in virtual.values():
            which.values[(1, 1)] = "η"
            which.values[ETA_CELL] = eta
        walk.origin[ETA_CELL] = (source[0], address(*source[1:]))

    for name, cells in found:
        source_original, source_values = original.sheet(name), values.sheet(name)
        for key, spot in cells.items():
            target = (row_of[name], column[key])
            walk.origin[target] = (name, address(*spot))
            value = source_values.values.get(spot)
            virtual["values"].values[target] = value
            virtual["original"].values[target] = (
                source_original.values.get(spot) if source_original else value
            )
            text = source_original.formula(*spot) if source_original else None
            if text is not None:
                rewritten = _rewrite(text, name, target, cell_of, eta_cells)
                virtual["original"].formulas[target] = rewritten
                virtual["values"].formulas[target] = rewritten

    for which in virtual.values():  # filled as dicts; read as the reader's stores, like any sheet
        which.values, which.formulas = CellValues.of(which.values), CellFormulas.of(which.formulas)

    origin = {(SHEET, *cell): f"'{name}'!{a1}" for cell, (name, a1) in walk.origin.items()}

    def book(base: Book, sheet: Sheet) -> Book:
        return Book(base.path, [sheet, *base.sheets], dict(base.properties), origin, dict(base.names))

    walk.original = book(original, virtual["original"])
    walk.values = book(values, virtual["values"])
    return walk


def _rewrite(text: str, sheet: str, target: tuple[int, int], cell_of: dict, eta_cells: dict) -> str:
    """The formula with every reference to a labelled cell pointing at its virtual cell."""
    try:
        tree = formula.parse(text)
    except formula.FormulaError:
        return text

    def change(node):
        if not isinstance(node, formula.Ref):
            return None
        where = (node.sheet or sheet, node.row, node.col)
        if where in eta_cells:
            row, col = eta_cells[where]
            return formula.Ref(None, row, col, row_abs=True, col_abs=True)
        if where in cell_of:
            row, col = cell_of[where]
            return formula.Ref(None, row, col)
        return formula.Ref(where[0], node.row, node.col, node.row_abs, node.col_abs)

    del target
    return formula.to_text(formula.transform(tree, change))


def _original_formula(walk: Walkthrough, sheet: str, cell: str) -> str | None:
    source = walk.original.sheet(sheet)
    tree = formula.parse(cell)
    return (
        source.formula(tree.row, tree.col) if source is not None and isinstance(tree, formula.Ref) else None
    )


def _range(walk: Walkthrough, text: str) -> str:
    first, _, last = text.partition(":")
    sheet, start = walk.where(SHEET, first)
    if not last:
        return f"'{sheet}'!{start}"
    other, end = walk.where(SHEET, last)
    return f"'{sheet}'!{start} … '{other}'!{end}"


def report_in_place(result, walk: Walkthrough) -> None:
    """Name the sheet and cell each finding came from, with its own formula, not the virtual ones."""
    for check in result.tables:
        for finding in {id(f): f for f in [*check.wrong_cells, check.first_wrong] if f is not None}.values():
            if finding.sheet != SHEET:
                continue
            finding.sheet, finding.address = walk.where(SHEET, finding.address)
            finding.formula = _original_formula(walk, finding.sheet, finding.address) or finding.formula
        for unproven in check.unproven:
            if unproven.sheet == SHEET:
                unproven.cells = _range(walk, unproven.cells)
                unproven.sheet = walk.sheets[0]
        if walk.relabelled:
            sheet, spot, label, key = walk.relabelled[0]
            more = f" (and {len(walk.relabelled) - 1} more such cells)" if len(walk.relabelled) > 1 else ""
            weight = key.removeprefix(UPDATED)
            named = f"is labelled {label} but" if label else "has no label but"
            check.notes.append(
                f"'{sheet}'!{address(*spot)} {named} computes {weight} − η·∂E/∂{weight}: "
                f"read as the updated {weight}{more}"
            )
        check.notes.append(
            "read in Mazur's layout: one iteration per sheet ("
            + ", ".join(f"'{name}'" for name in walk.sheets)
            + "), each quantity a labelled cell"
        )
        _texts_in_place(check, walk)


_VIRTUAL_REF = re.compile(rf"'{SHEET}'!(\$?[A-Z]{{1,3}}\$?\d+(?::\$?[A-Z]{{1,3}}\$?\d+)?)")


def _text_in_place(text: str, walk: Walkthrough) -> str:
    """A message with every 'Iterations'!A1 (or range) of the virtual sheet named by the sheets and
    cells it came from."""
    return _VIRTUAL_REF.sub(lambda match: _range(walk, match.group(1).replace("$", "")), text)


def _texts_in_place(check, walk: Walkthrough) -> None:
    """The table named by the sheets it spans, not the virtual 'Iterations' (a sheet the book lacks);
    η's cell and every note's cells named as the book has them."""
    first, last = walk.sheets[0], walk.sheets[-1]
    spans = f"'{first}' … '{last}'" if len(walk.sheets) > 1 else f"'{first}'"
    check.place = f"{spans} (one iteration per sheet)"
    source = getattr(check.table, "eta_source", "")
    if source.startswith("cell ") and check.eta_note:
        sheet, cell = walk.where(SHEET, source.removeprefix("cell "))
        check.eta_note = check.eta_note.replace(f"from {source}", f"from '{sheet}'!{cell}")
    check.eta_note = _text_in_place(check.eta_note, walk)
    check.notes = [_text_in_place(note, walk) for note in check.notes]
    check.unmapped = [_text_in_place(text, walk) for text in check.unmapped]
    for item in check.unproven:
        item.message = _text_in_place(item.message, walk)
