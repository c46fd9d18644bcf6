"""The worked first step on the Equations sheet: beside each equation, the numbers of one LR sheet.

Mazur's post walks the first iteration number by number ("∂E_total/∂w5 = 0.74136507 × 0.186815602 ×
0.593269992 = 0.082167041"); the Equations sheet does the same with live formulas. A selector cell
(a drop-down of the LR sheet names) chooses the sheet; a block at the foot of the Equations sheet
reads that sheet's iteration 0 (and the weights of iteration 1) through CHOOSE(MATCH(...)); every
number beside an equation is a formula on that block, and the right-hand result reads the LR
sheet's own cell. Edit any input or η and the numbers follow.

CHOOSE over the LR sheets, not INDIRECT: INDIRECT is volatile and builds its reference from text,
which no formula checker can follow; CHOOSE names every sheet and computes the same in Excel,
LibreOffice and Gnumeric.
"""

from __future__ import annotations

from dataclasses import dataclass

from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from sheetgen.core import oracle
from sheetgen.core.columns import Column, compile_template, placeholders, render
from sheetgen.core.layout import lr_sheet_name

UPDATED = "new_"  # block key of a value after the first update: new_w5 is iteration 1's w5
NUMBER_COL = 2  # the numbers start in column C, beside the equation text in column B


def _abs(row: int, col: int) -> str:
    return xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)


@dataclass
class _Entry:
    key: str  # block key: a column key, new_<w>, or "eta"
    label: str
    meaning: str
    value: float
    source_row: int | None  # the LR sheets' row this entry reads (None: η)


class WorkedStep:
    """The selector, the block of the chosen sheet's first row, and the numbers beside the equations.

    columns: the variant's column table; lrs, tables: the learning rates and the oracle's tables
    (the first sheet is the one chosen when the book opens); first_row: the LR sheets' row of
    iteration 0 (0-based); eta_cell: the η cell of an LR sheet, e.g. "$B$2".
    """

    def __init__(self, columns: tuple[Column, ...], lrs, tables, first_row: int, eta_cell: str, biases: str):
        self.columns = columns
        self.sheets = [lr_sheet_name(eta) for eta in lrs]
        self.letters = {c.key: xl_col_to_name(i) for i, c in enumerate(columns)}
        table = tables[0]
        self.entries = [_Entry("eta", "η", "the chosen sheet's learning rate", float(lrs[0]), None)]
        self.eta_cell = eta_cell
        for c in columns:
            if c.formula is not None:
                self.entries.append(_Entry(c.key, c.label, "iteration 0", float(table[c.key][0]), first_row))
        updated, _ = oracle.free_values(biases)
        for key in updated:
            self.entries.append(
                _Entry(
                    UPDATED + key,
                    f"{key}⁺",
                    "iteration 1: after the first update",
                    float(table[key][1]),
                    first_row + 1,
                )
            )
        self.values = {e.key: e.value for e in self.entries}
        self.cells: dict[str, str] = {}
        self.selector = self.index_cell = ""
        self.block_top = -1

    # -- where things go -------------------------------------------------------------------------
    def block_rows(self) -> int:
        """Rows the block takes: the sheet list, the sheet number, then one row per entry."""
        return len(self.sheets) + 1 + len(self.entries)

    def place(self, selector_row: int, block_top: int) -> None:
        """Fix the addresses: the selector on `selector_row` (column C), the block from `block_top`."""
        self.selector = _abs(selector_row, NUMBER_COL)
        self.block_top = block_top
        self.names = (_abs(block_top, NUMBER_COL), _abs(block_top + len(self.sheets) - 1, NUMBER_COL))
        self.index_cell = _abs(block_top + len(self.sheets), NUMBER_COL)
        first_entry = block_top + len(self.sheets) + 1
        self.cells = {e.key: _abs(first_entry + n, NUMBER_COL) for n, e in enumerate(self.entries)}

    # -- the selector ----------------------------------------------------------------------------
    def write_selector(self, sheet, row: int, formats) -> None:
        sheet.write_string(row, 1, "The numbers beside the equations are iteration 0 of sheet:", formats.note)
        sheet.write_string(row, NUMBER_COL, self.sheets[0], formats.choice)
        sheet.data_validation(
            row,
            NUMBER_COL,
            row,
            NUMBER_COL,
            {
                "validate": "list",
                "source": f"={self.names[0]}:{self.names[1]}",
                "input_title": "LR sheet",
                "input_message": "Choose the sheet whose first iteration the equations show",
                "error_message": "Choose one of the LR sheets in the list",
            },
        )
        sheet.write_string(row, NUMBER_COL + 1, "← choose an LR sheet here", formats.note)

    # -- the block -------------------------------------------------------------------------------
    def block_lines(self):
        """(label, meaning, kind, payload) per block row, top to bottom, for the page to write."""
        for n, name in enumerate(self.sheets, start=1):
            yield "", f"LR sheet {n}", "name", name
        first, last = self.names
        yield "", "the chosen sheet's number", "index", (f"=MATCH({self.selector},{first}:{last},0)", 1)
        for entry in self.entries:
            if entry.source_row is None:
                refs = [f"'{s}'!{self.eta_cell}" for s in self.sheets]
            else:
                col = self.letters[entry.key.removeprefix(UPDATED)]
                refs = [f"'{s}'!${col}${entry.source_row + 1}" for s in self.sheets]
            yield (
                entry.label,
                entry.meaning,
                "value",
                (f"=CHOOSE({self.index_cell},{','.join(refs)})", entry.value),
            )

    # -- the numbers beside an equation ----------------------------------------------------------
    def numbers(self, spec: tuple[str, ...]):
        """(column, formula or None, text or value) per item of a spec: templates, and text between them.

        A template (an item with a placeholder) reads block keys ({a_o1}, {new_w5}, {eta}); its cached
        value is computed from the block's cached values, as the sheet computes it.
        """

        def resolve(kind, key):
            if kind is not None or key not in self.cells:
                raise KeyError(f"worked step reads {kind}:{key}, which the block does not hold")
            return self.cells[key]

        for n, item in enumerate(spec):
            col = NUMBER_COL + n
            if not placeholders(item):
                yield col, None, item
            else:
                value = float(compile_template(item)(self.values))
                yield col, "=" + render(item, resolve), value

    def covers(self, spec: tuple[str, ...]) -> bool:
        """Whether every quantity the spec reads is in this network's block (no biases: no b1 steps)."""
        return all(kind is None and key in self.values for t in spec for kind, key in placeholders(t))
