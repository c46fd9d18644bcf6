"""A tiny evaluator for the workbook's formulas, so tests can recompute a sheet without a spreadsheet.

It understands exactly what the sheets use: cell references (A1, $B$2, Inputs!$B$4,
'LR 0.1'!X6), + - * / ^, parentheses, numbers, EXP() and TANH(). Anything else raises, so a
formula the evaluator does not know cannot pass silently.
"""

from __future__ import annotations

import math
import re

from openpyxl.utils import column_index_from_string

_REF = re.compile(
    r"(?:(?:'(?P<quoted>[^']+)'|(?P<plain>[A-Za-z_][\w.]*))!)?"
    r"\$?(?P<col>[A-Z]{1,3})\$?(?P<row>\d+)"
)
_ALLOWED = re.compile(r"^[\d.eE+\-*/()^ ]*$")


def references(formula: str, sheet: str) -> list[tuple[str, int, int]]:
    """(sheet, row, column) of each reference in a formula; 1-based rows and columns."""
    return [
        (
            m.group("quoted") or m.group("plain") or sheet,
            int(m.group("row")),
            column_index_from_string(m.group("col")),
        )
        for m in _REF.finditer(formula)
    ]


def evaluate(formula: str, sheet: str, value_of) -> float:
    """Evaluate `formula` (on `sheet`); value_of(sheet, row, column) gives each referenced cell's number."""
    body = formula.removeprefix("=").replace("TANH(", "¤(").replace("EXP(", "§(")

    def substitute(m):
        where = m.group("quoted") or m.group("plain") or sheet
        return repr(float(value_of(where, int(m.group("row")), column_index_from_string(m.group("col")))))

    expression = _REF.sub(substitute, body)
    if not _ALLOWED.match(expression.replace("§", "").replace("¤", "")):
        raise ValueError(f"formula outside the evaluator's grammar: {formula}")
    expression = expression.replace("^", "**").replace("§(", "_exp(").replace("¤(", "_tanh(")
    return float(eval(expression, {"__builtins__": {}}, {"_exp": math.exp, "_tanh": math.tanh}))  # noqa: S307
