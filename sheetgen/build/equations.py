"""The Equations sheet: notation, network diagram, forward pass, the chain rule step by step, the update.

The derivation follows the course (and Mazur's post): ∂E_total/∂w5 first, then w5..w8, then
∂E_total/∂a_h1 and ∂E_total/∂a_h2, then w1..w4, then the biases when the network has them. Beside
each step stand the numbers of the first iteration of one LR sheet, chosen in a cell at the top
(see sheetgen.build.worked), as live formulas. The sheet ends with the formula of every column of
the LR sheets, rendered from the column table so that the text cannot disagree with the cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sheetgen.build.styles import print_setup
from sheetgen.build.worked import NUMBER_COL, WorkedStep
from sheetgen.core import formula
from sheetgen.core.columns import BY_KEY, Column, template_tree
from sheetgen.core.errors import UserError

ASSETS = Path(__file__).resolve().parent / "assets"
DIAGRAM = ASSETS / "network.png"
DIAGRAM_WITH_BIASES = ASSETS / "network_biases.png"
DIAGRAM_SCALE = 0.8
DIAGRAM_ROWS = 21  # rows of 20 px the scaled diagram covers (480 px * 0.8 = 384 px)
TEXT_WIDTH = 74  # column B; longer lines run on into the columns right of it where no numbers stand


@dataclass(frozen=True)
class Line:
    text: str
    style: str = "plain"  # plain, equation or result
    marker: str = ""
    numbers: tuple[str, ...] = ()  # the worked numbers: templates of block keys ("{a_o1}-{t1}") and text


# Output error signals δ_o = ∂E_total/∂o, and the hidden activations' gradients, as block templates.
D_O1 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})"
D_O2 = "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
DE_DA_H1 = f"{D_O1}*{{w5}}+{D_O2}*{{w7}}"
DE_DA_H2 = f"{D_O1}*{{w6}}+{D_O2}*{{w8}}"
D_H1 = f"({DE_DA_H1})*{{a_h1}}*(1-{{a_h1}})"
D_H2 = f"({DE_DA_H2})*{{a_h2}}*(1-{{a_h2}})"


def notation(biases: str) -> list[Line]:
    if biases == "none":
        weights = "i1, i2: the inputs; t1, t2: the targets; w1..w8: the weights (this network has no biases)"
    else:
        held = "held fixed, as in Mazur's post" if biases == "fixed" else "trained like the weights"
        weights = f"i1, i2: the inputs; t1, t2: the targets; w1..w8: the weights; b1, b2: the biases ({held})"
    return [
        Line(weights),
        Line("h1, h2: weighted sums into the hidden neurons; a_h1, a_h2: their activations"),
        Line(
            "o1, o2: weighted sums into the output neurons; "
            "a_o1, a_o2: their activations (the network's outputs)"
        ),
        Line("σ(x) = 1 / (1 + e^(−x)), the sigmoid; its derivative is σ'(x) = σ(x)·(1 − σ(x))"),
        Line("E1, E2: the squared error of each output; E_total = E1 + E2; η: the learning rate"),
    ]


def forward(biases: str) -> list[Line]:
    b1, b2 = ("b1", "b2") if biases != "none" else ("", "")

    def weighted(out: str, wa: str, xa: str, wb: str, xb: str, bias: str) -> Line:
        text = f"{out} = {wa}·{xa} + {wb}·{xb}" + (f" + {bias}" if bias else "")
        numbers = ("{" + wa + "}", "×", "{" + xa + "}", "+", "{" + wb + "}", "×", "{" + xb + "}")
        numbers += ("+", "{" + bias + "}") if bias else ()
        return Line(text, "equation", numbers=(*numbers, "=", "{" + out + "}"))

    def activation(net: str) -> Line:
        return Line(
            f"a_{net} = σ({net})", "equation", numbers=("σ(", "{" + net + "}", ") =", "{a_" + net + "}")
        )

    return [
        weighted("h1", "w1", "i1", "w2", "i2", b1),
        activation("h1"),
        weighted("h2", "w3", "i1", "w4", "i2", b1),
        activation("h2"),
        weighted("o1", "w5", "a_h1", "w6", "a_h2", b2),
        activation("o1"),
        weighted("o2", "w7", "a_h1", "w8", "a_h2", b2),
        activation("o2"),
        Line("E1 = ½·(t1 − a_o1)²", "equation", numbers=("½ × (", "{t1}", "−", "{a_o1}", ")² =", "{E1}")),
        Line("E2 = ½·(t2 − a_o2)²", "equation", numbers=("½ × (", "{t2}", "−", "{a_o2}", ")² =", "{E2}")),
        Line("E_total = E1 + E2", "result", numbers=("{E1}", "+", "{E2}", "=", "{E_total}")),
    ]


def _output_gradient(w: int, delta: str, a_o: str, t: str, a_h: str) -> Line:
    return Line(
        f"∂E_total/∂w{w} = ({a_o} − {t})·{a_o}·(1 − {a_o})·{a_h}",
        "result",
        numbers=(
            f"{{{a_o}}}-{{{t}}}",
            "×",
            f"{{{a_o}}}*(1-{{{a_o}}})",
            "×",
            f"{{{a_h}}}",
            "=",
            f"{{dE_dw{w}}}",
        ),
    )


def _hidden_gradient(w: int, h: str, x: str, de_da: str, numbered: bool = True) -> Line:
    numbers = (de_da, "×", f"{{a_{h}}}*(1-{{a_{h}}})", "×", f"{{{x}}}", "=", f"{{dE_dw{w}}}")
    return Line(
        f"∂E_total/∂w{w} = ∂E_total/∂a_{h} · a_{h}·(1 − a_{h}) · {x}",
        "result",
        numbers=numbers if numbered else (),
    )


def derivation(biases: str) -> list[Line]:
    lines = [
        Line("w5 reaches E_total only through o1 and a_o1, so by the chain rule:", marker="1."),
        Line(
            "∂E_total/∂w5 = ∂E_total/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂w5",
            "equation",
            numbers=("{a_o1}-{t1}", "×", "{a_o1}*(1-{a_o1})", "×", "{a_h1}", "=", "{dE_dw5}"),
        ),
        Line("∂E_total/∂a_o1 = ∂E1/∂a_o1 = −(t1 − a_o1) = a_o1 − t1", "equation", numbers=("{a_o1}-{t1}",)),
        Line("   (E2 does not depend on a_o1)"),
        Line(
            "∂a_o1/∂o1 = a_o1·(1 − a_o1)   (the sigmoid's derivative)",
            "equation",
            numbers=("{a_o1}*(1-{a_o1})",),
        ),
        Line("∂o1/∂w5 = a_h1", "equation", numbers=("{a_h1}",)),
        _output_gradient(5, D_O1, "a_o1", "t1", "a_h1"),
        Line("The other output-layer weights, in the same way:", marker="2."),
        _output_gradient(6, D_O1, "a_o1", "t1", "a_h2"),
        _output_gradient(7, D_O2, "a_o2", "t2", "a_h1"),
        _output_gradient(8, D_O2, "a_o2", "t2", "a_h2"),
        Line("Each hidden activation feeds both outputs, so its gradient sums two paths:", marker="3."),
        Line(
            "∂E_total/∂a_h1 = ∂E1/∂a_h1 + ∂E2/∂a_h1",
            "equation",
            numbers=(f"{D_O1}*{{w5}}", "+", f"{D_O2}*{{w7}}", "=", DE_DA_H1),
        ),
        Line(
            "∂E1/∂a_h1 = ∂E1/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂a_h1",
            "equation",
            numbers=("{a_o1}-{t1}", "×", "{a_o1}*(1-{a_o1})", "×", "{w5}", "=", f"{D_O1}*{{w5}}"),
        ),
        Line(
            "∂E2/∂a_h1 = ∂E2/∂a_o2 · ∂a_o2/∂o2 · ∂o2/∂a_h1",
            "equation",
            numbers=("{a_o2}-{t2}", "×", "{a_o2}*(1-{a_o2})", "×", "{w7}", "=", f"{D_O2}*{{w7}}"),
        ),
        Line("∂E_total/∂a_h1 = (a_o1 − t1)·a_o1·(1 − a_o1)·w5 + (a_o2 − t2)·a_o2·(1 − a_o2)·w7", "result"),
        Line(
            "∂E_total/∂a_h2 = ∂E1/∂a_h2 + ∂E2/∂a_h2",
            "equation",
            numbers=(f"{D_O1}*{{w6}}", "+", f"{D_O2}*{{w8}}", "=", DE_DA_H2),
        ),
        Line("∂E_total/∂a_h2 = (a_o1 − t1)·a_o1·(1 − a_o1)·w6 + (a_o2 − t2)·a_o2·(1 − a_o2)·w8", "result"),
        Line(
            "The hidden-layer weights: w1, w2 reach E_total through h1 and a_h1; w3, w4 through h2 and a_h2:",
            marker="4.",
        ),
        Line(
            "∂E_total/∂w1 = ∂E_total/∂a_h1 · ∂a_h1/∂h1 · ∂h1/∂w1",
            "equation",
            numbers=(DE_DA_H1, "×", "{a_h1}*(1-{a_h1})", "×", "{i1}", "=", "{dE_dw1}"),
        ),
        _hidden_gradient(1, "h1", "i1", DE_DA_H1, numbered=False),  # the line above shows its numbers
        _hidden_gradient(2, "h1", "i2", DE_DA_H1),
        _hidden_gradient(3, "h2", "i1", DE_DA_H2),
        _hidden_gradient(4, "h2", "i2", DE_DA_H2),
        Line(
            "Note: w3 and w4 use a_h2·(1 − a_h2), not a_h1·(1 − a_h1), a mistake common in hand-made sheets."
        ),
    ]
    if biases == "none":
        return lines
    trained = biases == "trained"
    db1, db2 = ("{dE_db1}", "{dE_db2}") if trained else (f"{D_H1}+{D_H2}", f"{D_O1}+{D_O2}")
    lines += [
        Line(
            "Each bias feeds both units of its layer, and ∂o1/∂b2 = ∂o2/∂b2 = ∂h1/∂b1 = ∂h2/∂b1 = 1:",
            marker="5.",
        ),
        Line(
            "∂E_total/∂b2 = ∂E_total/∂o1 · 1 + ∂E_total/∂o2 · 1",
            "equation",
            numbers=(D_O1, "+", D_O2, "=", db2),
        ),
        Line("∂E_total/∂b2 = (a_o1 − t1)·a_o1·(1 − a_o1) + (a_o2 − t2)·a_o2·(1 − a_o2)", "result"),
        Line(
            "∂E_total/∂b1 = ∂E_total/∂h1 · 1 + ∂E_total/∂h2 · 1",
            "equation",
            numbers=(D_H1, "+", D_H2, "=", db1),
        ),
        Line("∂E_total/∂b1 = ∂E_total/∂a_h1 · a_h1·(1 − a_h1) + ∂E_total/∂a_h2 · a_h2·(1 − a_h2)", "result"),
        Line(
            "The biases are trained: b ← b − η·∂E_total/∂b, from the same row as the weights."
            if trained
            else "The biases are held fixed, as in Mazur's post: these gradients are shown, not applied."
        ),
    ]
    return lines


def update(biases: str) -> list[Line]:
    trained = biases == "trained"
    what = "all eight weights" + (" and both biases" if trained else "")
    lines = [
        Line(f"w ← w − η · ∂E_total/∂w, for {what} at once", "equation"),
        Line(
            "All gradients are taken from the same row (the same weights); "
            "the next row holds the new weights."
        ),
        Line(
            "For a small enough η, E_total falls at every step; "
            "too large an η overshoots (see the Summary chart)."
        ),
        Line("The first update, in numbers (w⁺: the weight in the chosen sheet's next row):"),
    ]
    names = [f"w{k}" for k in range(1, 9)] + (["b1", "b2"] if trained else [])
    for name in names:
        grad = f"dE_d{name}"
        lines.append(
            Line(
                f"{name}⁺ = {name} − η · ∂E_total/∂{name}",
                "equation",
                numbers=(f"{{{name}}}", "−", "{eta}", "×", f"{{{grad}}}", "=", f"{{new_{name}}}"),
            )
        )
    return lines


def _sigma(node):
    """1/(1+EXP(-x)) as σ(x), recognised in the parsed tree."""
    match node:
        case formula.Binary(
            "/", formula.Num(1.0), formula.Binary("+", formula.Num(1.0), formula.Call("EXP", (arg,)))
        ) if isinstance(arg, formula.Unary) and arg.op == "-":
            return formula.Call("σ", (arg.operand,))
    return None


def _readable(template: str, labels: dict[str, str]) -> str:
    """A column's formula template in the sheet's notation: `w1[above]`, `Inputs:w1`, `η`, `σ(h1)`."""

    def label(node):
        if not isinstance(node, formula.Var):
            return None
        kind, _, key = node.name.rpartition(":")
        if key == "eta":
            return "η"
        if kind == "table":
            return f"Inputs:samples.{key}"
        if kind == "param":
            return f"Inputs:{key}"  # a cell of the Inputs sheet, named there (i1_s1 may be no column)
        text = labels.get(key) or BY_KEY[key].label
        return f"{text}[row above]" if kind == "prev" else text

    text = formula.to_text(formula.transform(template_tree(template), _sigma), label)
    return text.replace("^2", "²").replace("*", "·").replace("-", " − ").replace("+", " + ")


def column_formulas(columns: tuple[Column, ...]) -> list[Line]:
    labels = {c.key: c.label for c in columns}
    lines = []
    for column in columns:
        if column.formula is None:
            text = "the iteration number (0 for the initial weights)"
        elif column.next_formula:
            text = f"= {_readable(column.formula, labels)}   /   {_readable(column.next_formula, labels)}"
        else:
            text = f"= {_readable(column.formula, labels)}"
        lines.append(Line(text, "equation", marker=column.label))
    return lines


class _Page:
    """Writes the sheet top to bottom: each section a heading, then one line per row in column B.

    With sheet None it only counts rows, so the block the numbers read can be placed before any
    line is written (a streamed workbook writes its rows in order).
    """

    def __init__(self, sheet, formats, worked: WorkedStep):
        self.sheet, self.row, self.f, self.worked = sheet, 2, formats, worked

    def heading(self, text: str) -> None:
        self.row += 1
        if self.sheet:
            self.sheet.write_string(self.row, 0, text, self.f.section)
            self.sheet.write_blank(self.row, 1, None, self.f.section)
        self.row += 1

    def line(self, line: Line) -> None:
        if self.sheet:
            if line.marker:
                self.sheet.write_string(self.row, 0, line.marker, self.f.marker)
            self.sheet.write_string(self.row, 1, line.text, getattr(self.f, line.style))
            if line.numbers and self.worked.covers(line.numbers):
                for col, formula, value in self.worked.numbers(line.numbers):
                    if formula is None:
                        self.sheet.write_string(self.row, col, value, self.f.operator)
                    else:
                        self.sheet.write_formula(self.row, col, formula, self.f.value, value)
        self.row += 1

    def diagram(self, path: Path) -> None:
        self.row += 1
        if self.sheet:
            self.sheet.insert_image(
                self.row,
                1,
                str(path),
                {
                    "x_scale": DIAGRAM_SCALE,
                    "y_scale": DIAGRAM_SCALE,
                    "description": "The 2-2-2 network: inputs, hidden and output neurons, weights w1..w8"
                    + (", biases b1, b2" if path == DIAGRAM_WITH_BIASES else "")
                    + ", errors E1, E2",
                },
            )
        self.row += DIAGRAM_ROWS

    def block(self) -> None:
        """The chosen sheet's first row, which every number beside the equations reads."""
        for label, meaning, kind, payload in self.worked.block_lines():
            if self.sheet:
                if label:
                    self.sheet.write_string(self.row, 0, label, self.f.marker)
                self.sheet.write_string(self.row, 1, meaning)
                if kind == "name":
                    self.sheet.write_string(self.row, NUMBER_COL, payload, self.f.value)
                else:
                    formula, value = payload
                    self.sheet.write_formula(self.row, NUMBER_COL, formula, self.f.value, value)
            self.row += 1


def _section(page: _Page, heading: str, lines: list[Line]) -> None:
    page.heading(heading)
    for line in lines:
        page.line(line)


def _compose(page: _Page, biases: str, columns: tuple[Column, ...], answers: bool = True) -> None:
    _section(page, "Notation", notation(biases))
    page.diagram(DIAGRAM if biases == "none" else DIAGRAM_WITH_BIASES)
    _section(page, "Forward pass", forward(biases))
    _section(page, "Backward pass: the chain rule, step by step", derivation(biases))
    _section(page, "Update rule", update(biases))
    if answers:
        heading = "The formulas of each LR sheet's columns (first row / later rows where they differ)"
        _section(page, heading, column_formulas(columns))
    page.heading("The numbers beside the equations: the chosen LR sheet's iteration 0, read by CHOOSE")


class _Formats:
    def __init__(self, book, styles):
        mono = {"font_name": "DejaVu Sans Mono"}
        self.section = book.add_format({"bold": True, "font_size": 12, "bottom": 1})
        self.plain = None
        self.equation = book.add_format(mono)
        self.result = book.add_format({**mono, "bold": True, "bg_color": "#E2EFDA"})
        self.marker = book.add_format({"bold": True, "align": "right"})
        self.value = book.add_format({"num_format": "General", "align": "right"})
        self.operator = book.add_format({"align": "center", "font_color": "#555555"})
        self.choice = book.add_format({"bg_color": "#FFF2CC", "border": 1, "bold": True})
        self.note = styles.note


def write_equations_sheet(
    book, sheet, styles, columns: tuple[Column, ...], worked: WorkedStep, biases: str, answers: bool = True
) -> None:
    diagram = DIAGRAM if biases == "none" else DIAGRAM_WITH_BIASES
    if not diagram.is_file():
        raise UserError(
            f"the network diagram {diagram} is missing from this installation: "
            f"reinstall backprop-lab (or run python tools/draw_diagram.py)"
        )
    formats = _Formats(book, styles)
    counting = _Page(None, formats, worked)
    _compose(counting, biases, columns, answers)
    worked.place(selector_row=1, block_top=counting.row)

    page = _Page(sheet, formats, worked)
    sheet.write_string(
        0, 0, "Equations: the network, the forward pass, the chain rule, the update", styles.title
    )
    worked.write_selector(sheet, 1, formats)
    _compose(page, biases, columns, answers)
    page.block()
    sheet.set_column(0, 0, 9)
    sheet.set_column(1, 1, TEXT_WIDTH)
    sheet.set_column(NUMBER_COL, NUMBER_COL + 12, 12)
    sheet.hide_gridlines(2)
    print_setup(sheet, None, landscape=False)
