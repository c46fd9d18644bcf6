"""The Equations sheet of any network spec: notation, a diagram, the forward pass, the chain rule in δ
form, the update, and beside each equation the live numbers of the first LR sheet's first step.

(The course's 2-2-2 network keeps its own sheet, sheetgen.build.equations, which walks Mazur's
derivation step by step with a drop-down of LR sheets.) Here every line is generated from the
spec, so a 2-3-3-2 tanh network with softmax outputs reads as naturally as the course's: the
error signal δ of a unit is ∂E/∂(its net input); an output's δ comes from the loss, a hidden
unit's from the δ of the units it feeds, δ_j = (Σ_k δ_k·w_kj)·f'(net_j); a weight's gradient is
δ of its destination times its source; a bias's is the sum of the δ of the units it feeds. The
numbers are formulas reading iteration 0 (and 1, after the update) of the first LR sheet, so an
edit on the Inputs sheet changes them too. The diagram is a native scatter chart (units, weights
and biases as points, lines and labels), so the build needs no drawing library.
"""

from __future__ import annotations

from xlsxwriter.utility import xl_col_to_name

from sheetgen.build.equations import column_formulas
from sheetgen.build.styles import print_setup
from sheetgen.core.columns import Column, _deltas, _Notation, render
from sheetgen.core.layout import lr_sheet_name
from sheetgen.core.spec import NetworkSpec, sample_key

NUMBER_COL = 2
TEXT_WIDTH = 70
DIAGRAM_ROWS = 22
# Where the diagram's points are kept (columns far right of the text, hidden).
DATA_COL = 40

_ACTIVATION_TEXT = {
    "sigmoid": ("σ({z}) = 1/(1 + e^(−{z}))", "{a}·(1 − {a})"),
    "tanh": ("tanh({z})", "1 − {a}²"),
    "relu": ("max({z}, 0)", "1 if {z} > 0, else 0"),
    "linear": ("{z}", "1"),
    "softmax": ("e^{z} / Σ_k e^o_k", None),
}


def _loss_text(spec: NetworkSpec, e: str, t: str, a: str) -> str:
    if spec.loss == "half-squared":
        return f"{e} = ½·({t} − {a})²"
    if spec.loss == "squared":
        return f"{e} = ({t} − {a})²"
    if spec.output_activation == "softmax":
        return f"{e} = −{t}·ln {a}"
    return f"{e} = −[{t}·ln {a} + (1 − {t})·ln(1 − {a})]"


def _output_delta_text(spec: NetworkSpec, unit: str, t: str) -> str:
    a = f"a_{unit}"
    if spec.loss == "cross-entropy":
        if spec.output_activation == "softmax":
            targets = spec.targets
            total = " + ".join(targets) if len(targets) <= 3 else f"{targets[0]} + … + {targets[-1]}"
            return f"δ_{unit} = ∂E/∂{unit} = {a}·({total}) − {t}   (= {a} − {t} for targets summing to 1)"
        return (
            f"δ_{unit} = ∂E/∂{unit} = {a} − {t}   (the sigmoid's derivative cancels the loss's denominator)"
        )
    factor = "2·" if spec.loss == "squared" else ""
    derivative = _ACTIVATION_TEXT[spec.output_activation][1].format(a=a, z=unit)
    return f"δ_{unit} = ∂E/∂{a} · ∂{a}/∂{unit} = {factor}({a} − {t}) · {derivative}"


class _Sheet:
    """Writes lines top to bottom; numbers beside them are formulas on the first LR sheet's cells."""

    def __init__(self, book, sheet, styles, spec, columns, lrs, tables, first_row):
        self.sheet, self.spec, self.table = sheet, spec, tables[0]
        self.lr = lr_sheet_name(lrs[0])
        self.eta = float(lrs[0])
        self.letters = {c.key: xl_col_to_name(i) for i, c in enumerate(columns)}
        self.first_row = first_row
        self.row = 3
        self.diagram_series = None
        mono = {"font_name": "DejaVu Sans Mono"}
        self.f_section = book.add_format({"bold": True, "font_size": 12, "bottom": 1})
        self.f_equation = book.add_format(mono)
        self.f_result = book.add_format({**mono, "bold": True, "bg_color": "#E2EFDA"})
        self.f_value = book.add_format({"num_format": "General", "align": "right"})
        self.f_operator = book.add_format({"align": "center", "font_color": "#555555"})
        self.f_marker = book.add_format({"bold": True, "align": "right"})
        self.styles = styles

    def cell(self, key: str, later: int = 0) -> str:
        """The first LR sheet's cell of a column at iteration `later`; η is its η cell."""
        if key == "eta":
            return f"'{self.lr}'!$B$2"
        return f"'{self.lr}'!${self.letters[key]}${self.first_row + 1 + later}"

    def value(self, key: str, later: int = 0) -> float:
        return self.eta if key == "eta" else float(self.table[key][later])

    def heading(self, text: str) -> None:
        self.row += 1
        self.sheet.write_string(self.row, 0, text, self.f_section)
        self.sheet.write_blank(self.row, 1, None, self.f_section)
        self.row += 1

    def line(self, text: str, style=None, numbers=(), marker: str = "") -> None:
        """numbers: items beside the text: a str is written as text, (formula, value) as a live formula."""
        if marker:
            self.sheet.write_string(self.row, 0, marker, self.f_marker)
        self.sheet.write_string(self.row, 1, text, style)
        for col, item in enumerate(numbers, start=NUMBER_COL):
            if isinstance(item, str):
                self.sheet.write_string(self.row, col, item, self.f_operator)
            else:
                formula, value = item
                self.sheet.write_formula(self.row, col, "=" + formula, self.f_value, value)
        self.row += 1

    def ref(self, key: str, later: int = 0):
        return (self.cell(key, later), self.value(key, later))


def _notation(page: _Sheet, spec: NetworkSpec) -> None:
    page.heading("Notation")
    inputs, targets = ", ".join(spec.inputs), ", ".join(spec.targets)
    page.line(f"Network {spec.describe()}")
    page.line(f"{inputs}: the inputs; {targets}: the targets (one per output)")
    for layer in spec.hidden:
        which = "first" if layer.index == 1 else "second"
        page.line(
            f"{', '.join(layer.units)}: net inputs of the {which} hidden layer's units; "
            f"{', '.join(layer.activations)}: their activations ({layer.activation})"
        )
    page.line(
        f"{', '.join(spec.output.units)}: net inputs of the outputs; {', '.join(spec.output.activations)}: "
        f"the network's outputs ({spec.output_activation})"
    )
    first = spec.layers[0]
    page.line(
        f"w1..w{len(spec.weights)}: the weights, numbered layer by layer, within a layer by "
        "destination unit, "
        f"then source unit (w1 = {first.sources[0]} → {first.units[0]}"
        + (f", w2 = {first.sources[1]} → {first.units[0]})" if len(first.sources) > 1 else ")")
    )
    if spec.biases != "none":
        how = "held fixed at their Inputs values" if spec.biases == "fixed" else "trained like the weights"
        page.line(f"{', '.join(spec.bias_names)}: the biases, one per {spec.bias_per} ({how})")
    for kind in dict.fromkeys(layer.activation for layer in spec.layers):
        value, derivative = _ACTIVATION_TEXT[kind]
        text = f"{kind}: a = {value.format(z='x')}"
        if derivative:
            text += f"; its derivative is {derivative.format(a='a', z='x')}"
        page.line(text)
    losses = ", ".join(spec.losses)
    if spec.samples is None or spec.batch == "online":
        page.line(f"{losses}: each output's loss; E_total = {' + '.join(spec.losses)}; η: the learning rate")
    else:
        page.line(
            f"{losses}: each output's loss, per sample (E1_s2: sample 2's); E_total = the mean over the "
            f"{spec.n_samples} samples of their summed losses; η: the learning rate"
        )
    if spec.samples is not None and spec.batch == "full":
        page.line("x_s2 is sample 2's x: each LR row holds a block of columns per sample (full batch)")
    elif spec.samples is not None:
        page.line(
            f"Online: iteration n trains on sample (n mod {spec.n_samples}) + 1 (the Sample column), read "
            "from the Inputs sheet's samples table with INDEX"
        )
    page.line("δ_x = ∂E/∂x, the error signal of unit x: how the loss changes with its net input")


def _forward(page: _Sheet, spec: NetworkSpec) -> None:
    page.heading("Forward pass" + (" (for each sample; numbers of sample 1)" if spec.blocks > 1 else ""))
    key = lambda name: sample_key(name, 1, spec)  # noqa: E731
    for layer in spec.layers:
        for unit, row, bias in zip(layer.units, layer.weights, layer.biases, strict=True):
            terms = [f"{w}·{src}" for w, src in zip(row, layer.sources, strict=True)] + (
                [bias] if bias else []
            )
            numbers = []
            for w, src in zip(row, layer.sources, strict=True):
                numbers += [page.ref(w), "×", page.ref(key(src)), "+"]
            if bias:
                numbers += [page.ref(bias), "+"]
            numbers[-1] = "="
            numbers.append(page.ref(key(unit)))
            page.line(
                f"{unit} = {' + '.join(terms)}",
                page.f_equation,
                numbers if len(numbers) <= 14 else [page.ref(key(unit))],
            )
            value = _ACTIVATION_TEXT[layer.activation][0].format(z=unit)
            if layer.activation == "softmax":
                value = f"e^{unit} / ({' + '.join('e^' + u for u in layer.units)})"
            page.line(f"a_{unit} = {value}", page.f_equation, [page.ref(key(f"a_{unit}"))])
    for e, t, unit in zip(spec.losses, spec.targets, spec.output.units, strict=True):
        page.line(_loss_text(spec, e, t, f"a_{unit}"), page.f_equation, [page.ref(key(e))])
    if spec.blocks > 1:
        text = f"E_total = (sum of every sample's E1..E{spec.sizes[-1]}) / {spec.n_samples}"
    else:
        text = f"E_total = {' + '.join(spec.losses)}"
    page.line(text, page.f_result, [page.ref("E_total")])


def _backward(page: _Sheet, spec: NetworkSpec) -> None:
    page.heading(
        "Backward pass: the chain rule in δ form" + (" (numbers of sample 1)" if spec.blocks > 1 else "")
    )
    q = _Notation(spec, 1)
    # δ as live formulas on the LR sheet's cells: its column where it has one, else its expression.
    inline = {k: v for k, v in _deltas(spec, q, inline=True).items() if not k.startswith("column:")}

    def delta(unit):
        key = sample_key(f"delta_{unit}", 1, spec)
        if key in page.letters:
            return page.ref(key)
        return (render(inline[unit], lambda kind, k: page.cell(k)), page.value(key))

    page.line("1. Output units: δ = ∂E/∂a · ∂a/∂net, from the loss and the output activation", marker="")
    for unit, t in zip(spec.output.units, spec.targets, strict=True):
        page.line(_output_delta_text(spec, unit, t), page.f_equation, [delta(unit)])
    for depth in range(len(spec.layers) - 2, -1, -1):
        layer, above = spec.layers[depth], spec.layers[depth + 1]
        page.line(
            f"{len(spec.layers) - depth}. Hidden units {', '.join(layer.units)}: each feeds every "
            "unit of the next "
            "layer, so its δ sums those paths: δ_j = (Σ_k δ_k · w_kj) · f'(net_j)"
        )
        for j, unit in enumerate(layer.units):
            paths = " + ".join(f"δ_{u}·{row[j]}" for u, row in zip(above.units, above.weights, strict=True))
            derivative = _ACTIVATION_TEXT[layer.activation][1].format(a=f"a_{unit}", z=unit)
            page.line(f"δ_{unit} = ({paths}) · {derivative}", page.f_equation, [delta(unit)])
    mean = " (the mean over the samples)" if spec.blocks > 1 else ""
    page.line(f"Gradients{mean}: a weight's is δ of the unit it feeds times its source; ∂net/∂w = the source")
    for layer in spec.layers:
        for unit, row in zip(layer.units, layer.weights, strict=True):
            for w, src in zip(row, layer.sources, strict=True):
                numbers = [page.ref(f"dE_d{w}")]
                if spec.blocks == 1:
                    numbers = [delta(unit), "×", page.ref(src), "=", page.ref(f"dE_d{w}")]
                gradient = _over_samples(spec, f"δ_{unit} · {src}")
                page.line(f"∂E_total/∂{w} = {gradient}", page.f_result, numbers)
    if spec.biases != "none":
        page.line("A bias's gradient: the sum of the δ of the units it is added into (∂net/∂b = 1)")
        for bias in spec.bias_names:
            deltas = " + ".join("δ_" + u for u in spec.bias_units(bias))
            text = f"∂E_total/∂{bias} = {_over_samples(spec, deltas)}"
            if spec.biases == "trained":
                page.line(text, page.f_result, [page.ref(f"dE_d{bias}")])
            else:
                page.line(text + "   (held fixed: shown, not applied)", page.f_equation)


def _over_samples(spec: NetworkSpec, term: str) -> str:
    """A gradient's right-hand side: the term itself, or its mean when each row holds every sample (the
    number beside it is that mean, while the δ above are sample 1's: the text must not claim δ·source)."""
    if spec.blocks == 1:
        return term
    return f"mean over the {spec.blocks} samples of ({term})"


def _update(page: _Sheet, spec: NetworkSpec) -> None:
    page.heading("Update rule")
    what = "every weight" + (" and bias" if spec.biases == "trained" else "")
    page.line(f"w ← w − η · ∂E_total/∂w, for {what} at once, all from the same row", page.f_equation)
    page.line(f"The first update, in numbers (w⁺: the weight in {page.lr}'s next row):")
    for name in spec.free:
        numbers = [page.ref(name), "−", page.ref("eta"), "×", page.ref(f"dE_d{name}"), "=", page.ref(name, 1)]
        page.line(f"{name}⁺ = {name} − η · ∂E_total/∂{name}", page.f_equation, numbers)


def _positions(spec: NetworkSpec) -> dict[str, tuple[float, float]]:
    """Diagram coordinates: layers left to right, units top to bottom, centred; biases above their layer."""
    layers = [spec.inputs] + [layer.units for layer in spec.layers]
    where = {}
    for x, units in enumerate(layers):
        for n, unit in enumerate(units):
            where[unit] = (2.0 * x, (len(units) - 1) / 2 - n)
    for n, e in enumerate(spec.losses):
        where[e] = (2.0 * len(layers), where[spec.output.units[n]][1])
    where["E_total"] = (2.0 * len(layers) + 1.6, 0.0)
    for layer in spec.layers:
        for bias in dict.fromkeys(b for b in layer.biases if b):
            units = spec.bias_units(bias)
            x, y = where[units[0]]
            where[bias] = (x - 0.3, max(where[u][1] for u in units) + 0.75)
    return where


LABEL_DISTANCES = (0.3, 0.5, 0.7)  # of the way along a weight's line, by its destination unit, in turn


def weight_label_points(spec: NetworkSpec, where: dict) -> list[tuple[str, float, float]]:
    """(weight, x, y) of each weight's label on its line. Neighbouring destination units' labels sit at
    different distances along their lines (LABEL_DISTANCES in turn), so that the labels of lines crossing
    into neighbouring units do not land on each other (at one fixed distance, w9 and w10 of a 2-3-3-2 did)."""
    points = []
    for layer in spec.layers:
        for d, (unit, row) in enumerate(zip(layer.units, layer.weights, strict=True)):
            t = LABEL_DISTANCES[d % len(LABEL_DISTANCES)]
            for w, src in zip(row, layer.sources, strict=True):
                (x0, y0), (x1, y1) = where[src.removeprefix("a_")], where[unit]
                points.append((w, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
    return points


def _diagram(book, page: _Sheet, spec: NetworkSpec) -> None:
    """A scatter chart of the network: units (and biases) as labelled points, weights as labelled lines."""
    where = _positions(spec)
    sheet, _name = page.sheet, page.sheet.name
    edges, bias_edges = [], []
    for layer in spec.layers:
        for unit, bias in zip(layer.units, layer.biases, strict=True):
            edges += [(src.removeprefix("a_"), unit) for src in layer.sources]
            if bias:
                bias_edges.append((bias, unit))
    weight_points = weight_label_points(spec, where)
    edges += [(u, e) for u, e in zip(spec.output.units, spec.losses, strict=True)] + [
        (e, "E_total") for e in spec.losses
    ]
    nodes = (
        list(spec.inputs)
        + [u for layer in spec.layers for u in layer.units]
        + list(spec.losses)
        + ["E_total"]
    )
    biases = list(dict.fromkeys(b for layer in spec.layers for b in layer.biases if b))
    node_labels = {u: (f"a_{u}" if u[0] in "hgo" else u) for u in nodes}

    pending: list[tuple[list, dict]] = []

    def add(points: list[tuple[float, float]], options: dict) -> None:
        pending.append((points, options))

    chart = book.add_chart({"type": "scatter", "subtype": "straight"})
    chart.show_hidden_data()  # its points sit in hidden columns
    # One series per line (a weight, a bias, a loss), drawn under the points.
    for a, b in edges:
        add([where[a], where[b]], {"line": {"color": "#7F7F7F", "width": 1.25}, "marker": {"type": "none"}})
    for a, b in bias_edges:
        add(
            [where[a], where[b]],
            {"line": {"color": "#A5A5A5", "width": 1, "dash_type": "dash"}, "marker": {"type": "none"}},
        )
    label = lambda size, **font: {"position": "above", "font": {"size": size, **font}}  # noqa: E731
    add(
        [(x, y) for _, x, y in weight_points],
        {
            "line": {"none": True},
            "marker": {"type": "none"},
            "data_labels": {
                "custom": [{"value": w} for w, _, _ in weight_points],
                **label(8, color="#1F4E79"),
            },
        },
    )
    add(
        [where[u] for u in nodes],
        {
            "line": {"none": True},
            "marker": {
                "type": "circle",
                "size": 14,
                "fill": {"color": "#E2EFDA"},
                "border": {"color": "#404040"},
            },
            "data_labels": {
                "custom": [{"value": node_labels[u]} for u in nodes],
                **label(9, bold=True),
                "position": "below",
            },
        },
    )
    if biases:
        add(
            [where[b] for b in biases],
            {
                "line": {"none": True},
                "marker": {
                    "type": "square",
                    "size": 10,
                    "fill": {"color": "#EDEDED"},
                    "border": {"color": "#404040"},
                },
                "data_labels": {"custom": [{"value": b} for b in biases], **label(9), "position": "left"},
            },
        )
    sheet.set_column(DATA_COL, DATA_COL + 1, None, None, {"hidden": True})
    page.diagram_series = (chart, pending)
    xs = [p[0] for p in where.values()]
    ys = [p[1] for p in where.values()]
    chart.set_x_axis(
        {"min": min(xs) - 1.2, "max": max(xs) + 0.8, "visible": False, "major_gridlines": {"visible": False}}
    )
    chart.set_y_axis(
        {"min": min(ys) - 0.8, "max": max(ys) + 0.6, "visible": False, "major_gridlines": {"visible": False}}
    )
    chart.set_legend({"none": True})
    chart.set_title(
        {
            "name": f"The network {'-'.join(map(str, spec.sizes))}: units, weights"
            + (", biases" if biases else "")
            + ", losses"
        }
    )
    chart.set_size({"width": 780, "height": 20 * DIAGRAM_ROWS})
    page.row += 1
    sheet.insert_chart(page.row, 1, chart)
    page.row += DIAGRAM_ROWS


def _diagram_points(page: _Sheet) -> None:
    """The diagram's points, in two hidden columns below everything else (a streamed sheet is written
    top to bottom), a block of rows per series."""
    chart, pending = page.diagram_series
    sheet, name = page.sheet, page.sheet.name
    row = page.row + 2
    for points, options in pending:
        for n, (x, y) in enumerate(points):
            sheet.write_number(row + n, DATA_COL, x)
            sheet.write_number(row + n, DATA_COL + 1, y)
        last = row + len(points) - 1
        chart.add_series(
            {
                "categories": [name, row, DATA_COL, last, DATA_COL],
                "values": [name, row, DATA_COL + 1, last, DATA_COL + 1],
                "categories_data": [p[0] for p in points],
                "values_data": [p[1] for p in points],
                **options,
            }
        )
        row = last + 1


def write_spec_equations(
    book,
    sheet,
    styles,
    spec: NetworkSpec,
    columns: tuple[Column, ...],
    lrs,
    tables,
    first_row: int,
    answers: bool = True,
) -> None:
    page = _Sheet(book, sheet, styles, spec, columns, lrs, tables, first_row)
    sheet.write_string(
        0, 0, "Equations: the network, the forward pass, the chain rule, the update", styles.title
    )
    sheet.write_string(
        1,
        0,
        "The numbers beside the equations are live formulas reading iteration 0 (and 1) of sheet "
        f"'{page.lr}': "
        "edit the Inputs sheet and they follow.",
        styles.note,
    )
    _notation(page, spec)
    _diagram(book, page, spec)
    _forward(page, spec)
    _backward(page, spec)
    _update(page, spec)
    if answers:  # not in the student's copy (build.exercise): they are the answers
        page.heading("The formulas of each LR sheet's columns (first row / later rows where they differ)")
        for line in column_formulas(columns):
            page.line(line.text, page.f_equation, marker=line.marker)
    _diagram_points(page)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 1, TEXT_WIDTH)
    sheet.set_column(NUMBER_COL, NUMBER_COL + 14, 12)
    sheet.hide_gridlines(2)
    print_setup(sheet, None, landscape=False)
