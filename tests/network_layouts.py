"""Hand-made workbooks of small networks in the layouts teachers draw them, beyond a row per iteration.

A network is described here by hand (not by sheetgen's spec or column table): layer sizes, the
hidden and output activations, a trained bias per unit or none, the samples and the loss. Its
quantities are written as formula templates spelled out below ({zh1} is that quantity's cell in
the same iteration and sample, {g_w1@2} sample 2's, {eta} the learning rate's cell or name), and
each layout only says where each quantity lives:

- `table`: a row per iteration, each sample its own block of columns (XOR's four side by side),
  the update reading every block's gradients; `transposed` puts quantities down the rows and
  iterations across the columns; references may be written through INDEX/OFFSET with constant
  arguments; η and the starting weights may live on another sheet, η as a defined name (of a
  cell or of a constant); the starting weights may be RAND().
- `per_sheet`: Mazur's one iteration per sheet, labelled cells, each sheet reading the sheet
  before's updated weights.
- `single_step`: one forward pass, backward pass and update, labelled cells scattered over a sheet.

A book is written without cached values: LibreOffice recalculates it when verified. A planted
mistake is one quantity's template changed (`mistake=(quantity, template)`, optionally for one
sample only), and `Book.where` says which cell holds each quantity, so a test knows the first
wrong cell and can read what it should hold from the right twin's recalculation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import xlsxwriter
from openpyxl.utils import get_column_letter

XOR = [((0.0, 0.0), (0.0,)), ((0.0, 1.0), (1.0,)), ((1.0, 0.0), (1.0,)), ((1.0, 1.0), (0.0,))]
_FIELD = re.compile(r"\{([A-Za-z_0-9]+)(?:@(\d+))?\}")


@dataclass
class Network:
    n_in: int
    n_hid: int
    n_out: int
    hidden: str = "sigmoid"  # sigmoid | tanh
    output: str = "sigmoid"  # sigmoid | linear
    biases: bool = True  # a trained bias per unit
    samples: list = field(default_factory=lambda: [((0.35, 0.9), (0.5,))])
    half: bool = True  # loss ½Σ(t−a)², else Σ(t−a)²
    eta: float = 0.5
    seed: int = 0

    # -- names -----------------------------------------------------------------------------------
    @property
    def inputs(self):
        return [f"x{i}" for i in range(1, self.n_in + 1)]

    @property
    def targets(self):
        return [f"t{k}" for k in range(1, self.n_out + 1)]

    def hidden_weights(self, j):
        return [f"w{(j - 1) * self.n_in + i}" for i in range(1, self.n_in + 1)]

    def output_weights(self, k):
        base = self.n_hid * self.n_in
        return [f"w{base + (k - 1) * self.n_hid + j}" for j in range(1, self.n_hid + 1)]

    def bias_h(self, j):
        return f"b{j}"

    def bias_o(self, k):
        return f"b{self.n_hid + k}"

    @property
    def weights(self):
        """Every trained parameter, in the order a teacher lists them."""
        names = [w for j in range(1, self.n_hid + 1) for w in self.hidden_weights(j)]
        names += [w for k in range(1, self.n_out + 1) for w in self.output_weights(k)]
        if self.biases:
            names += [self.bias_h(j) for j in range(1, self.n_hid + 1)]
            names += [self.bias_o(k) for k in range(1, self.n_out + 1)]
        return names

    def start(self) -> dict[str, float]:
        """Starting weights: a fixed pattern of small values, different per weight (no symmetry)."""
        values = {}
        for n, w in enumerate(self.weights):
            values[w] = round(((n * 37 + 11 + self.seed * 13) % 19 - 9) / 20 + 0.013 * (n % 3), 4) or 0.07
        return values

    def out(self, k):
        """The output's activation cell name (a linear output is its sum)."""
        return f"zo{k}" if self.output == "linear" else f"ao{k}"

    # -- the formulas ----------------------------------------------------------------------------
    def forward(self) -> list[tuple[str, str]]:
        """(quantity, template) of one sample, in dependency order: data first, then sums, ..."""
        found = [(x, None) for x in self.inputs] + [(t, None) for t in self.targets]
        for j in range(1, self.n_hid + 1):
            terms = [f"{{{w}}}*{{{x}}}" for w, x in zip(self.hidden_weights(j), self.inputs, strict=True)]
            bias = f"+{{{self.bias_h(j)}}}" if self.biases else ""
            found.append((f"zh{j}", "+".join(terms) + bias))
            found.append((f"ah{j}", _act(self.hidden, f"{{zh{j}}}")))
        for k in range(1, self.n_out + 1):
            terms = [f"{{{w}}}*{{ah{j}}}" for j, w in enumerate(self.output_weights(k), 1)]
            bias = f"+{{{self.bias_o(k)}}}" if self.biases else ""
            found.append((f"zo{k}", "+".join(terms) + bias))
            if self.output != "linear":
                found.append((f"ao{k}", _act(self.output, f"{{zo{k}}}")))
        squares = "+".join(f"({{{t}}}-{{{self.out(k)}}})^2" for k, t in enumerate(self.targets, 1))
        found.append(("E", f"0.5*({squares})" if self.half else squares))
        factor = "" if self.half else "2*"
        for k in range(1, self.n_out + 1):
            o = f"{{{self.out(k)}}}"
            found.append((f"do{k}", f"{factor}({o}-{{t{k}}})" + _derivative(self.output, o)))
        for j in range(1, self.n_hid + 1):
            back = "+".join(
                f"{{do{k}}}*{{{self.output_weights(k)[j - 1]}}}" for k in range(1, self.n_out + 1)
            )
            found.append((f"dh{j}", f"({back})" + _derivative(self.hidden, f"{{ah{j}}}")))
        for j in range(1, self.n_hid + 1):
            for w, x in zip(self.hidden_weights(j), self.inputs, strict=True):
                found.append((f"g_{w}", f"{{dh{j}}}*{{{x}}}"))
        for k in range(1, self.n_out + 1):
            for j, w in enumerate(self.output_weights(k), 1):
                found.append((f"g_{w}", f"{{do{k}}}*{{ah{j}}}"))
        if self.biases:
            found += [(f"g_{self.bias_h(j)}", f"{{dh{j}}}") for j in range(1, self.n_hid + 1)]
            found += [(f"g_{self.bias_o(k)}", f"{{do{k}}}") for k in range(1, self.n_out + 1)]
        return found

    def update(self, w: str) -> str:
        """The next iteration's w, read in the iteration before: w − η·(mean gradient over the samples)."""
        s = len(self.samples)
        if s == 1:
            return f"{{{w}}}-{{eta}}*{{g_{w}}}"
        total = "+".join(f"{{g_{w}@{n}}}" for n in range(1, s + 1))
        return f"{{{w}}}-{{eta}}*({total})/{s}"


def _act(kind: str, z: str) -> str:
    return {"sigmoid": f"1/(1+EXP(-{z}))", "tanh": f"TANH({z})"}[kind]


def _derivative(kind: str, a: str) -> str:
    return {"sigmoid": f"*{a}*(1-{a})", "tanh": f"*(1-{a}^2)", "linear": ""}[kind]


# -- books ---------------------------------------------------------------------------------------------


@dataclass
class Book:
    cells: dict  # sheet -> {(row, col): number, text or "=formula"}
    names: dict = field(default_factory=dict)  # defined name -> "=Params!$B$2" or "=0.5"
    where: dict = field(default_factory=dict)  # (quantity, iteration, sample) -> "'Sheet'!A1"

    def put(self, sheet, row, col, value):
        self.cells.setdefault(sheet, {})[(row, col)] = value


def write(path, book: Book):
    wb = xlsxwriter.Workbook(str(path))
    for sheet, cells in book.cells.items():
        ws = wb.add_worksheet(sheet)
        for (row, col), value in sorted(cells.items()):
            if isinstance(value, str) and value.startswith("="):
                ws.write_formula(row - 1, col - 1, value)
            elif isinstance(value, str):
                ws.write_string(row - 1, col - 1, value)
            else:
                ws.write_number(row - 1, col - 1, value)
    for name, target in book.names.items():
        wb.define_name(name, target)
    wb.close()
    return path


def _ref(sheet: str, at: tuple[str, int, int], style: str = "plain", absolute=False) -> str:
    """The text of a reference to `at` from a formula on `sheet`, plain or through INDEX/OFFSET."""
    target, row, col = at
    prefix = "" if target == sheet else f"'{target}'!"
    letter = get_column_letter(col)
    if absolute:
        return f"{prefix}${letter}${row}"
    if style == "index":  # INDEX of a block around the cell, constant row and column
        top, left = max(1, row - 2), max(1, col - 1)
        area = f"{prefix}${get_column_letter(left)}${top}:${get_column_letter(col + 2)}${row + 3}"
        return f"INDEX({area},{row - top + 1},{col - left + 1})"
    if style == "offset":  # OFFSET from the sheet's corner, constant offsets
        return f"OFFSET({prefix}$A$1,{row - 1},{col - 1})"
    return f"{prefix}{letter}{row}"


def _fill(template: str, sheet: str, locate, style_of=lambda n: "plain") -> str:
    """The template with each {name} or {name@s} replaced by its cell's reference (locate(name, s))."""

    def one(match):
        name, s = match.group(1), match.group(2)
        found = locate(name, int(s) if s else None)
        if isinstance(found, str):  # a defined name, or a literal
            return found
        return _ref(sheet, found, style_of(name))

    return _FIELD.sub(one, template)


def _with_mistake(net: Network, mistake):
    """{quantity: template} for sample s: the network's own, or the planted one."""
    forward = dict(net.forward())

    def template(name, sample):
        if mistake and mistake[0] == name and (len(mistake) < 3 or mistake[2] == sample):
            return mistake[1]
        return forward[name]

    return template


def table(
    net: Network,
    iterations=4,
    transposed=False,
    refs="plain",
    params_sheet=False,
    eta_name=None,
    start="typed",
    mistake=None,
    sheet="Training",
) -> Book:
    """A row per iteration (a column with `transposed`), each sample its own block of columns.

    refs: "plain", "index", "offset" or "mixed" (INDEX and OFFSET by turns); params_sheet: η and the
    starting weights on a sheet "Params" (the first iteration's weights read them there); eta_name:
    "cell" (a defined name lr for η's cell) or "constant" (lr = η itself); start: "typed" or "rand".
    """
    book = Book({sheet: {}})
    forward = net.forward()
    template = _with_mistake(net, mistake)
    S = len(net.samples)
    weights = net.weights
    # Slots: the weights, then each sample's block, then the loss over the samples.
    slot: dict[tuple[str, int], int] = {}
    header: dict[int, str] = {1: "iteration"}
    n = 2
    for w in weights:
        slot[(w, 0)], header[n] = n, w
        n += 1
    for s in range(1, S + 1):
        for name, _ in forward:
            slot[(name, s)] = n
            header[n] = name if S == 1 else f"{name} ({s})"
            n += 1
    slot[("E_total", 0)], header[n] = n, "E total"

    def at(name, k, s=0):
        line = 2 + k
        place = slot[(name, s)]
        return (sheet, place, line) if transposed else (sheet, line, place)

    for place, text in header.items():
        book.put(sheet, *((place, 1) if transposed else (1, place)), text)
    # Parameters: beside the table, or on their own sheet.
    psheet = "Params" if params_sheet else sheet
    if params_sheet:
        book.cells[psheet] = {}
        book.put(psheet, 1, 1, "learning rate")
        book.put(psheet, 1, 2, net.eta)
        eta_at = (psheet, 1, 2)
        start_at = {}
        for i, w in enumerate(weights):
            book.put(psheet, 3 + i, 1, f"initial {w}")
            book.put(psheet, 3 + i, 2, net.start()[w])
            start_at[w] = (psheet, 3 + i, 2)
    else:
        corner = (len(forward) * S + len(weights) + 4) if not transposed else 2
        eta_at = (sheet, 1, corner + 1) if not transposed else (sheet, slot[("E_total", 0)] + 3, 2)
        book.put(sheet, eta_at[1], eta_at[2] - 1, "η")
        book.put(sheet, *eta_at[1:], net.eta)
        start_at = None
    if eta_name == "cell":
        book.names["lr"] = f"={_ref('', eta_at, absolute=True)}"
        eta_text = "lr"
    elif eta_name == "constant":
        book.names["lr"] = f"={net.eta}"
        eta_text = "lr"
    else:
        eta_text = None
    turn = {"n": 0}

    def style_of(name):
        if refs != "mixed":
            return refs
        turn["n"] += 1
        return ("index", "offset", "plain")[turn["n"] % 3]

    for k in range(iterations):
        book.put(*at_label(at, k, transposed), k)
        here = at("E_total", k)
        for w in weights:
            cell = at(w, k)
            book.where[(w, k, 0)] = _addr(cell)
            if k == 0:
                if start == "rand":
                    value = "=RAND()-0.5"
                elif start_at:
                    value = "=" + _ref(sheet, start_at[w])
                else:
                    value = net.start()[w]
            else:

                def prev(name, s, k=k):
                    if name == "eta":
                        return eta_text or _ref(sheet, eta_at, absolute=True)
                    return at(name, k - 1, s or 0) if name in net.weights else at(name, k - 1, s or 1)

                value = "=" + _fill(net.update(w), sheet, prev, style_of)
            book.put(*cell, value)
        for s in range(1, S + 1):
            xs, ts = net.samples[s - 1]
            for name, _ in forward:
                cell = at(name, k, s)
                book.where[(name, k, s)] = _addr(cell)
                if name.startswith("x"):
                    book.put(*cell, xs[int(name[1:]) - 1])
                    continue
                if name.startswith("t"):
                    book.put(*cell, ts[int(name[1:]) - 1])
                    continue

                def same(q, s2, k=k, s=s):
                    if q == "eta":
                        return eta_text or _ref(sheet, eta_at, absolute=True)
                    return at(q, k, 0) if q in net.weights else at(q, k, s2 or s)

                book.put(*cell, "=" + _fill(template(name, s), sheet, same, style_of))
        losses = "+".join(_ref(sheet, at("E", k, s)) for s in range(1, S + 1))
        book.put(*here, "=" + losses)
    return book


def at_label(at, k, transposed):
    sheet, row, col = at("E_total", k)
    return (sheet, 1, col) if transposed else (sheet, row, 1)


def _addr(cell) -> str:
    return f"'{cell[0]}'!{get_column_letter(cell[2])}{cell[1]}"


def per_sheet(net: Network, iterations=3, start="typed", mistake=None) -> Book:
    """Mazur's layout: one sheet per iteration, a label in column A and its cell in column B; sheet k+1
    types its inputs again and reads sheet k's updated weights (w1+), η read from the first sheet."""
    assert len(net.samples) == 1
    book = Book({})
    forward = net.forward()
    template = _with_mistake(net, mistake)
    xs, ts = net.samples[0]
    # Every sheet has the same rows: η, the weights, the quantities, the updated weights.
    row_of = {"eta": 1}
    line = 3
    for name in [*net.weights, None, *(q for q, _ in forward), None, *(w + "+" for w in net.weights)]:
        if name is not None:
            row_of[name] = line
        line += 1
    for k in range(iterations):
        sheet = f"Iteration {k + 1}"
        book.cells[sheet] = {}
        book.put(sheet, 1, 1, "learning rate η")
        book.put(sheet, 1, 2, net.eta if k == 0 else "='Iteration 1'!B1")
        for name, r in row_of.items():
            if name != "eta":
                book.put(sheet, r, 1, _label(name) if not name.endswith("+") else name)
        for w in net.weights:
            r = row_of[w]
            if k == 0:
                book.put(sheet, r, 2, "=RAND()-0.5" if start == "rand" else net.start()[w])
            else:
                book.put(sheet, r, 2, f"='Iteration {k}'!B{row_of[w + '+']}")
            book.where[(w, k, 0)] = f"'{sheet}'!B{r}"
        for name, _ in forward:
            book.where[(name, k, 1)] = f"'{sheet}'!B{row_of[name]}"

        def here(q, _s, sheet=sheet, row_of=row_of):
            return (sheet, row_of[q], 2)

        for name, _ in forward:
            r = row_of[name]
            if name.startswith("x"):
                book.put(sheet, r, 2, xs[int(name[1:]) - 1])
            elif name.startswith("t"):
                book.put(sheet, r, 2, ts[int(name[1:]) - 1])
            else:
                book.put(sheet, r, 2, "=" + _fill(template(name, 1), sheet, here))
        for w in net.weights:
            r = row_of[w + "+"]
            book.put(sheet, r, 2, "=" + _fill(net.update(w), sheet, here))
    return book


def _label(name: str) -> str:
    words = {"zh": "net h", "ah": "out h", "zo": "net o", "ao": "out o", "do": "δ o", "dh": "δ h"}
    if name.startswith("g_"):
        return f"∂E/∂{name[2:]}"
    if name == "E":
        return "E"
    return words.get(name[:2], name[:2]) + name[2:] if name[:2] in words else name


def single_step(net: Network, start="typed", mistake=None, sheet="Step") -> Book:
    """One forward pass, backward pass and update, each quantity a labelled cell scattered over the sheet:
    weights in a box at the top left, the forward pass in a column further right, the error terms in a
    row of pairs below, the gradients and new weights in a block at the bottom right."""
    book = Book({sheet: {}})
    forward = net.forward()
    template = _with_mistake(net, mistake)
    xs, ts = net.samples[0]
    place = {}
    book.put(sheet, 1, 1, "One step of backpropagation")
    for i, w in enumerate(net.weights):  # a box of weights, three to a row
        place[w] = (sheet, 3 + i // 3, 2 + 2 * (i % 3))
    place["eta"] = (sheet, 2, 9)
    book.put(sheet, 2, 8, "eta")
    book.put(sheet, 2, 9, net.eta)
    row = 3 + (len(net.weights) + 2) // 3 + 2
    col = 3
    grads = [q for q, _ in forward if q.startswith("g_")]
    deltas = [q for q, _ in forward if q.startswith(("do", "dh"))]
    rest = [q for q, _ in forward if q not in grads and q not in deltas]
    for n, q in enumerate(rest):  # the forward pass down one column, a blank every four
        place[q] = (sheet, row + n + n // 4, col + 1)
    low = row + len(rest) + len(rest) // 4 + 2
    for n, q in enumerate(deltas):  # error terms in a row of label/value pairs
        place[q] = (sheet, low, 2 + 3 * n)
    for n, q in enumerate(grads):  # gradients and the new weights side by side
        place[q] = (sheet, low + 3 + n, 8)
        place[q[2:] + "+"] = (sheet, low + 3 + n, 11)

    for q, (_, r, c) in place.items():
        if q != "eta":
            book.put(sheet, r, c - 1, _label(q) if not q.endswith("+") else f"new {q[:-1]}")
    for w in net.weights:
        value = "=RAND()-0.5" if start == "rand" else net.start()[w]
        book.put(*place[w], value)
        book.where[(w, 0, 0)] = _addr(place[w])

    def here(q, _s):
        return place[q]

    for q, _ in forward:
        book.where[(q, 0, 1)] = _addr(place[q])
        if q.startswith("x"):
            book.put(*place[q], xs[int(q[1:]) - 1])
        elif q.startswith("t"):
            book.put(*place[q], ts[int(q[1:]) - 1])
        else:
            book.put(*place[q], "=" + _fill(template(q, 1), sheet, here))
    for w in net.weights:
        book.put(*place[w + "+"], "=" + _fill(net.update(w), sheet, here))
        book.where[(w, 1, 0)] = _addr(place[w + "+"])
    return book


# -- the networks --------------------------------------------------------------------------------------


def sigmoid_221(**kw):
    """2-2-1 sigmoid, a trained bias per unit, one sample, loss Σ(t−a)² without ½."""
    return Network(2, 2, 1, half=False, **kw)


def tanh_231(samples=None, **kw):
    """2-3-1, tanh hidden units, a linear output, a trained bias per unit, ½Σ(t−a)²; three samples
    (regression) unless told."""
    samples = samples or [((0.5, -0.3), (0.7,)), ((-0.8, 0.2), (-0.4,)), ((0.1, 0.9), (0.25,))]
    return Network(2, 3, 1, hidden="tanh", output="linear", samples=samples, eta=0.2, seed=3, **kw)


def xor_221(**kw):
    """2-2-1 sigmoid XOR, a trained bias per unit, the four samples, full batch (mean gradient), ½ loss."""
    return Network(2, 2, 1, samples=list(XOR), seed=5, **kw)


def one_sample(net: Network) -> Network:
    from dataclasses import replace

    return replace(net, samples=net.samples[:1])
