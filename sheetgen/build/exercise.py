"""The student's copy: `sheetgen build --exercise` (or `--blank COLS`).

The same book with some columns of every LR sheet left empty under their headers: by default the
backward pass (the δ columns a network beyond the course's has, the gradients) and the updates
(each weight's, and each trained bias's, rows after the first, which compute w − η·∂E/∂w; the first
row still reads the Inputs sheet). `--blank` names the columns instead: keys or header labels
(dE_dw5, ∂E/∂w5, w5, a_h1, E_total, delta_o1), or the groups gradients, updates, deltas, forward,
losses. A first sheet, Exercise, says what to fill in and how it is checked; the Equations sheet
keeps the derivation but not the list of the columns' formulas (the answers).
"""

from __future__ import annotations

from dataclasses import dataclass

from xlsxwriter.utility import xl_col_to_name

from sheetgen.core.columns import Column
from sheetgen.core.errors import UserError
from sheetgen.core.spec import NetworkSpec

EXERCISE_SHEET = "Exercise"
GROUPS = ("gradients", "updates", "deltas", "forward", "losses")
DEFAULT_BLANK = "deltas,gradients,updates"


@dataclass(frozen=True)
class Blanks:
    whole: frozenset[str]  # columns empty in every row
    updates: frozenset[str]  # weight or bias columns empty after the first row

    def blank(self, key: str, first_row: bool) -> bool:
        return key in self.whole or (not first_row and key in self.updates)

    def __bool__(self) -> bool:
        return bool(self.whole or self.updates)


def _group(name: str, spec: NetworkSpec, columns: tuple[Column, ...]) -> tuple[set[str], set[str]]:
    keys = [c.key for c in columns]
    if name == "gradients":
        return {k for k in keys if k.startswith("dE_d")}, set()
    if name == "updates":
        return set(), {c.key for c in columns if c.next_formula}
    if name == "deltas":
        return {k for k in keys if k.startswith("delta_")}, set()
    if name == "losses":
        return {k for k in keys if k[:1] == "E"}, set()
    units = [u for layer in spec.layers for u in layer.units]
    forward = {k for k in keys if k.split("_s")[0] in units or k.split("_s")[0] in {f"a_{u}" for u in units}}
    return forward, set()


def blanks(spec: NetworkSpec, columns: tuple[Column, ...], text: str) -> Blanks:
    """The columns `--blank` names (comma-separated keys, labels or groups)."""
    by_name: dict[str, Column] = {}
    for c in columns:
        by_name[c.key] = by_name[c.label] = c
    whole: set[str] = set()
    updates: set[str] = set()
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item in GROUPS:
            w, u = _group(item, spec, columns)
            whole |= w
            updates |= u
            continue
        column = by_name.get(item)
        if column is None or column.formula is None:
            raise UserError(
                f"--blank: no column '{item}' in this network: give column keys or labels (dE_dw5, w5, a_h1, "
                f"E_total) or the groups {', '.join(GROUPS)}"
            )
        if column.next_formula:  # a weight: its first row reads the Inputs sheet, the rest is the update
            updates.add(column.key)
        else:
            whole.add(column.key)
    if not whole and not updates:
        raise UserError("--blank names no column: give e.g. --blank gradients,updates")
    return Blanks(frozenset(whole), frozenset(updates))


def write_exercise_sheet(
    sheet, styles, spec: NetworkSpec, columns: tuple[Column, ...], blank: Blanks, sheets, first_row: int
) -> None:
    """The first sheet: what is left empty, where, and how a filled-in copy is checked."""
    lines = [
        ("Exercise: fill in the empty columns of every LR sheet", styles.title),
        (
            f"The network: {spec.describe()}. Its notation, forward pass and chain rule are on the "
            "Equations sheet.",
            None,
        ),
        ("", None),
        ("Left empty under their headers (on every LR sheet: " + ", ".join(sheets) + "):", styles.label),
    ]
    for col, column in enumerate(columns):
        letter = xl_col_to_name(col)
        if column.key in blank.whole:
            lines.append((f"   column {letter}: {column.label}, every row from row {first_row + 1}", None))
        elif column.key in blank.updates:
            lines.append(
                (
                    f"   column {letter}: {column.label}, the updates: rows from {first_row + 2} on "
                    f"(row {first_row + 1} reads the Inputs sheet)",
                    None,
                )
            )
    lines += [
        ("", None),
        ("How:", styles.label),
        (
            "   Write the formula of the first row (or of the first update) with cell references, "
            "then copy it down.",
            None,
        ),
        (
            "   A gradient ∂E/∂w is δ of the unit w feeds times w's source; δ of an output comes "
            "from the loss and the",
            None,
        ),
        (
            "   activation's derivative, δ of a hidden unit sums δ·w of the units it feeds times its "
            "own derivative.",
            None,
        ),
        (
            "   An update is the row above's value − η · the row above's gradient (η is cell B2 of "
            "the sheet).",
            None,
        ),
    ]
    if spec.blocks > 1:  # full batch: the gradient columns are means, which the line above does not say
        lines.append(
            (
                f"   Each row holds all {spec.blocks} samples (the _s1, _s2, … blocks): a gradient is the "
                "mean over the samples of δ times the source, and E_total the mean of their losses.",
                None,
            )
        )
    lines += [
        ("   Until the columns are filled, the cells that read them (and the charts) show nonsense.", None),
        ("", None),
        (
            "Check: sheetgen verify THIS_FILE.xlsx (VERIFIED when every cell is right and every "
            "formula is right for",
            None,
        ),
        ("any inputs; otherwise the first wrong cell and the likely mistake).", None),
    ]
    for row, (text, style) in enumerate(lines):
        sheet.write_string(row, 0, text, style)
    sheet.set_column(0, 0, 110)
    sheet.activate()
