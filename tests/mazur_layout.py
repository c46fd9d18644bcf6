"""Books in the layout of Mazur's post: one iteration per sheet, a label left of each value or formula.

Each sheet lists i1, i2, t1, t2, w1..w8, b1, b2, η, net(h1), out(h1), …, E(o1), E(o2), Etotal and, for
each weight, dEtotal/dwK with the updated wK+ beside it. The first sheet types its inputs; each later
sheet reads them, and its weights, from the sheet before. Cached values are computed as the formulas
say (so the cached engine reads what a spreadsheet shows), with an optional mistake: a replacement
formula template for one quantity.
"""

from __future__ import annotations

import xlsxwriter

from sheetgen.build.params import read_template
from sheetgen.core import oracle
from sheetgen.core.columns import columns_for, compile_template, render

LABELS = {
    "h1": "net(h1)", "a_h1": "out(h1)", "h2": "net(h2)", "a_h2": "out(h2)",
    "o1": "net(o1)", "a_o1": "out(o1)", "o2": "net(o2)", "a_o2": "out(o2)",
    "E1": "E(o1)", "E2": "E(o2)", "E_total": "Etotal",
}  # fmt: skip
ETA = 0.5


def write(
    path, sheets: int = 3, mistake: dict | None = None, updated_label: str = "{w}+", retype: str = ""
) -> dict:
    """Write the book; returns {(sheet index, key): (sheet name, A1 address)} of every value cell.

    updated_label spells the label of each updated weight beside its gradient: "w1+" as the post does,
    or "{w}", the weight's own label again, as some reproductions do ("": no label at all). retype
    "typed" or "constant" gives each later sheet its inputs and biases again, as numbers or as
    constant formulas (=0.05), instead of reading them from the sheet before.
    """
    params = read_template("mazur").params
    columns = [c for c in columns_for("fixed") if c.key != "iteration"]
    mistake = mistake or {}
    book = xlsxwriter.Workbook(str(path))
    where: dict = {}
    previous: dict[str, float] = {}
    previous_rows: dict[str, int] = {}
    for index in range(sheets):
        name = f"Iteration {index + 1}"
        sheet = book.add_worksheet(name)
        cells: dict[str, str] = {}
        row = 0
        sheet.write_string(row, 0, "η")
        sheet.write_number(row, 1, ETA)
        cells["eta"] = "$B$1"
        values: dict[str, float] = {"eta": ETA}
        inputs = list(oracle.INPUTS) + list(oracle.WEIGHTS) + list(oracle.BIASES)
        order = inputs + [c.key for c in columns if c.key not in inputs]
        row = 2
        for key in order:
            column = next(c for c in columns if c.key == key)
            label = LABELS.get(key, key if not key.startswith("dE_dw") else f"dEtotal/dw{key[5:]}")
            sheet.write_string(row, 0, label)
            cells[key] = f"B{row + 1}"
            where[(index, key)] = (name, f"B{row + 1}")
            if key in inputs and index == 0:
                value = float(params[key])
                sheet.write_number(row, 1, value)
            elif key in inputs and key not in oracle.WEIGHTS and retype == "typed":
                value = float(params[key])
                sheet.write_number(row, 1, value)
            elif key in inputs and key not in oracle.WEIGHTS and retype == "constant":
                value = float(params[key])
                sheet.write_formula(row, 1, f"={value!r}", None, value)
            elif key in inputs:  # read from the sheet before: its updated weight, or the same input
                source = (
                    f"D{previous_rows[key] + 1}" if key in oracle.WEIGHTS else f"B{previous_rows[key] + 1}"
                )
                value = previous["new_" + key] if key in oracle.WEIGHTS else previous[key]
                sheet.write_formula(row, 1, f"='Iteration {index}'!{source}", None, value)
            else:
                template = mistake.get(key, column.formula)
                value = float(compile_template(template)(values))
                text = render(template, lambda kind, k, cells=cells: cells[k])
                sheet.write_formula(row, 1, "=" + text, None, value)
            values[key] = value
            if key.startswith("dE_dw"):  # the updated weight beside its gradient, as the post does
                w = "w" + key[5:]
                if updated_label:  # "": the updated weight without a label
                    sheet.write_string(row, 2, updated_label.format(w=w))
                updated = values[w] - ETA * value
                sheet.write_formula(row, 3, f"={cells[w]}-$B$1*B{row + 1}", None, updated)
                values["new_" + w] = updated
                where[(index, "new_" + w)] = (name, f"D{row + 1}")
            row += 1
        previous = values
        previous_rows = {}
        for key in order:
            previous_rows[key] = int(cells[key][1:]) - 1
        for k in range(1, 9):
            previous_rows[f"w{k}"] = previous_rows[f"dE_dw{k}"]
    book.close()
    return where
