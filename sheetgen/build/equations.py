"""The Equations sheet: notation, network diagram, forward pass, the chain rule step by step, the update.

The derivation follows the course: ∂E_total/∂w5 first, then w5..w8, then ∂E_total/∂a_h1 and
∂E_total/∂a_h2, then w1..w4. The sheet ends with the formula of every column of the LR sheets,
rendered from sheetgen.columns so that the text cannot disagree with the cells.
"""

from __future__ import annotations

import re
from pathlib import Path

from sheetgen.build.styles import print_setup
from sheetgen.core.columns import COLUMNS, render
from sheetgen.core.errors import UserError

DIAGRAM = Path(__file__).resolve().parent / "assets" / "network.png"
DIAGRAM_SCALE = 0.8
DIAGRAM_ROWS = 21  # rows of 20 px the scaled diagram covers (480 px * 0.8 = 384 px)

NOTATION = [
    "i1, i2: the inputs; t1, t2: the targets; w1..w8: the weights (this network has no biases)",
    "h1, h2: weighted sums into the hidden neurons; a_h1, a_h2: their activations",
    "o1, o2: weighted sums into the output neurons; a_o1, a_o2: their activations (the network's outputs)",
    "σ(x) = 1 / (1 + e^(−x)), the sigmoid; its derivative is σ'(x) = σ(x)·(1 − σ(x))",
    "E1, E2: the squared error of each output; E_total = E1 + E2; η: the learning rate",
]

FORWARD = [
    "h1 = w1·i1 + w2·i2          a_h1 = σ(h1)",
    "h2 = w3·i1 + w4·i2          a_h2 = σ(h2)",
    "o1 = w5·a_h1 + w6·a_h2      a_o1 = σ(o1)",
    "o2 = w7·a_h1 + w8·a_h2      a_o2 = σ(o2)",
    "E1 = ½·(t1 − a_o1)²         E2 = ½·(t2 − a_o2)²         E_total = E1 + E2",
]

# (step marker, text, is_result): the chain rule in the course's order.
DERIVATION = [
    ("1.", "w5 reaches E_total only through o1 and a_o1, so by the chain rule:", False),
    ("", "∂E_total/∂w5 = ∂E_total/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂w5", False),
    ("", "∂E_total/∂a_o1 = ∂E1/∂a_o1 = −(t1 − a_o1) = a_o1 − t1        (E2 does not depend on a_o1)", False),
    ("", "∂a_o1/∂o1 = a_o1·(1 − a_o1)        (the sigmoid's derivative)", False),
    ("", "∂o1/∂w5 = a_h1", False),
    ("", "∂E_total/∂w5 = (a_o1 − t1)·a_o1·(1 − a_o1)·a_h1", True),
    ("2.", "The other output-layer weights, in the same way:", False),
    ("", "∂E_total/∂w6 = (a_o1 − t1)·a_o1·(1 − a_o1)·a_h2", True),
    ("", "∂E_total/∂w7 = (a_o2 − t2)·a_o2·(1 − a_o2)·a_h1", True),
    ("", "∂E_total/∂w8 = (a_o2 − t2)·a_o2·(1 − a_o2)·a_h2", True),
    ("3.", "Each hidden activation feeds both outputs, so its gradient sums two paths:", False),
    ("", "∂E_total/∂a_h1 = ∂E1/∂a_h1 + ∂E2/∂a_h1", False),
    ("", "∂E1/∂a_h1 = ∂E1/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂a_h1 = (a_o1 − t1)·a_o1·(1 − a_o1)·w5", False),
    ("", "∂E2/∂a_h1 = ∂E2/∂a_o2 · ∂a_o2/∂o2 · ∂o2/∂a_h1 = (a_o2 − t2)·a_o2·(1 − a_o2)·w7", False),
    ("", "∂E_total/∂a_h1 = (a_o1 − t1)·a_o1·(1 − a_o1)·w5 + (a_o2 − t2)·a_o2·(1 − a_o2)·w7", True),
    ("", "∂E_total/∂a_h2 = (a_o1 − t1)·a_o1·(1 − a_o1)·w6 + (a_o2 − t2)·a_o2·(1 − a_o2)·w8", True),
    (
        "4.",
        "The hidden-layer weights: w1, w2 reach E_total through h1 and a_h1; w3, w4 through h2 and a_h2:",
        False,
    ),
    ("", "∂E_total/∂w1 = ∂E_total/∂a_h1 · ∂a_h1/∂h1 · ∂h1/∂w1 = ∂E_total/∂a_h1 · a_h1·(1 − a_h1) · i1", True),
    ("", "∂E_total/∂w2 = ∂E_total/∂a_h1 · a_h1·(1 − a_h1) · i2", True),
    ("", "∂E_total/∂w3 = ∂E_total/∂a_h2 · a_h2·(1 − a_h2) · i1", True),
    ("", "∂E_total/∂w4 = ∂E_total/∂a_h2 · a_h2·(1 − a_h2) · i2", True),
    (
        "",
        "Note: w3 and w4 use a_h2·(1 − a_h2), not a_h1·(1 − a_h1), a mistake common in hand-made sheets.",
        False,
    ),
]

UPDATE = [
    "w ← w − η · ∂E_total/∂w, for all eight weights at once",
    "All eight gradients are taken from the same row (the same weights); the next row holds the new weights.",
    "For a small enough η, E_total falls at every step; too large an η overshoots (see the Summary chart).",
]


_SIGMOID = re.compile(r"1/\(1\+EXP\(-(\w+)\)\)")


def _readable(template: str) -> str:
    """A column's formula template in the sheet's notation: `w1[above]`, `Inputs:w1`, `η`."""

    def resolve(kind, key):
        if key == "eta":
            return "η"
        label = next(c.label for c in COLUMNS if c.key == key)
        return {"prev": f"{label}[row above]", "param": f"Inputs:{key}"}.get(kind, label)

    text = _SIGMOID.sub(r"σ(\1)", render(template, resolve))
    return text.replace("^2", "²").replace("*", "·").replace("-", " − ").replace("+", " + ")


class _Page:
    """Writes the sheet top to bottom: each section a heading, then one line per row in column B."""

    def __init__(self, book, sheet, styles):
        self.sheet, self.row = sheet, 2
        self.title = styles.title
        self.section = book.add_format({"bold": True, "font_size": 12, "bottom": 1})
        self.equation = book.add_format({"font_name": "DejaVu Sans Mono"})
        self.result = book.add_format({"font_name": "DejaVu Sans Mono", "bold": True, "bg_color": "#E2EFDA"})
        self.marker = book.add_format({"bold": True, "align": "right"})

    def heading(self, text: str) -> None:
        self.row += 1
        self.sheet.write_string(self.row, 0, text, self.section)
        self.sheet.write_blank(self.row, 1, None, self.section)
        self.row += 1

    def line(self, text: str, style=None, marker: str = "") -> None:
        if marker:
            self.sheet.write_string(self.row, 0, marker, self.marker)
        self.sheet.write_string(self.row, 1, text, style)
        self.row += 1


def _diagram(page: _Page) -> None:
    page.row += 1
    page.sheet.insert_image(
        page.row,
        1,
        str(DIAGRAM),
        {
            "x_scale": DIAGRAM_SCALE,
            "y_scale": DIAGRAM_SCALE,
            "description": "The 2-2-2 network: inputs, hidden and output "
            "neurons, weights w1..w8, errors E1, E2",
        },
    )
    page.row += DIAGRAM_ROWS


def _derivation(page: _Page) -> None:
    page.heading("Backward pass: the chain rule, step by step")
    for step, text, is_result in DERIVATION:
        style = page.result if is_result else (page.equation if "=" in text else None)
        page.line(text, style, marker=step)


def _column_formulas(page: _Page) -> None:
    page.heading("The formulas of each LR sheet's columns (first row / later rows where they differ)")
    for column in COLUMNS:
        if column.formula is None:
            text = "the iteration number (0 for the initial weights)"
        elif column.next_formula:
            text = f"= {_readable(column.formula)}   /   {_readable(column.next_formula)}"
        else:
            text = f"= {_readable(column.formula)}"
        page.line(text, page.equation, marker=column.label)


def write_equations_sheet(book, sheet, styles) -> None:
    if not DIAGRAM.is_file():
        raise UserError(
            f"the network diagram {DIAGRAM} is missing from this installation: "
            f"reinstall backprop-lab (or run python tools/draw_diagram.py)"
        )
    page = _Page(book, sheet, styles)
    sheet.write_string(
        0, 0, "Equations: the network, the forward pass, the chain rule, the update", styles.title
    )
    page.heading("Notation")
    for text in NOTATION:
        page.line(text)
    _diagram(page)
    page.heading("Forward pass")
    for text in FORWARD:
        page.line(text, page.equation)
    _derivation(page)
    page.heading("Update rule")
    for text in UPDATE:
        page.line(text, page.equation if "←" in text else None)
    _column_formulas(page)
    sheet.set_column(0, 0, 9)
    sheet.set_column(1, 1, 110)
    sheet.hide_gridlines(2)
    print_setup(sheet, None, landscape=False)
