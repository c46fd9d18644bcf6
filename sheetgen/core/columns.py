"""The one column table that the workbook writer and the verifier both read.

Each Column says what a column of an iteration table is called (its header
label, in the course's notation, and the variants people use in hand-made
sheets), how the workbook computes it (a formula template), and which oracle
quantity it must equal. Because `sheetgen build` writes formulas from this
table and `sheetgen verify` checks values against the oracle through this same
table, the sheet and its check cannot drift apart.

Formula templates are Excel formulas with placeholders:
    {key}         the cell of column `key` in the same row
    {prev:key}    the cell of column `key` in the row above
    {param:key}   the cell of input `key` (i1, i2, t1, t2, w1..w8, b1, b2) in the parameter block
                  (or, with several samples, of i1_s2 etc. in the samples table)
    {table:key}   the samples table's column of `key` (i1, t1, ...), which online rows INDEX
    {eta}         this sheet's learning-rate cell
Weight columns (and trained biases) have two templates: the first row reads the parameter
block, later rows apply the update to the row above.

Every network spec (sheetgen.core.spec) has its own table, spec_columns(spec); the course's
network with biases none / fixed / trained is columns_for(biases), the default spec's, and
COLUMNS is the course's network without biases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sheetgen.core import formula
from sheetgen.core.spec import BIAS_MODES, NetworkSpec, sample_key


@dataclass(frozen=True)
class Column:
    key: str  # oracle quantity (see sheetgen.core.oracle.evaluate_spec); also the placeholder name
    label: str  # header label written by sheetgen build
    formula: str | None  # template for every row (None: Iteration, written as a number)
    next_formula: str | None = None  # template for rows after the first (weights only)
    aliases: tuple[str, ...] = field(default=())  # extra header spellings accepted by verify
    number_format: str = "0.000000000"


def _number(name: str) -> str:
    """The trailing number of a name (t1 -> 1), for the aliases people write (target1)."""
    return re.sub(r"^\D+", "", name)


def _label(key: str) -> str:
    """The header of a key: the key itself in the notation, delta_h1 -> δ_h1, dE_dw1 -> ∂E/∂w1."""
    if key.startswith("delta_"):
        return "δ_" + key.removeprefix("delta_")
    if key.startswith("dE_d"):
        return "∂E/∂" + key.removeprefix("dE_d")
    return key


def _free(name: str, trained: bool, alias_forms: tuple[str, ...]) -> Column:
    """A weight or bias: the first row reads the Inputs sheet, later rows update the row above's."""
    return Column(
        key=name,
        label=name,
        formula=f"{{param:{name}}}",
        next_formula=f"{{prev:{name}}}-{{eta}}*{{prev:dE_d{name}}}" if trained else None,
        aliases=tuple(a.format(name=name, k=_number(name)) for a in alias_forms),
    )


_BIAS_ALIASES = ("bias{k}", "bias {k}", "b_{k}", "bias {name}")
_GRAD_ALIASES = (
    "∂E_total/∂{name}",
    "∂E_tot/∂{name}",
    "∂Etotal/∂{name}",
    "∂E/∂{name}",
    "dE/d{name}",
    "dE_total/d{name}",
    "dEtotal/d{name}",
    "dE_tot/d{name}",
    "dE_d{name}",
    "dEd{name}",
    "grad_{name}",
    "gradient {name}",
    "∂E_t/∂{name}",
)
_BIAS_GRAD_ALIASES = (
    "∂E/∂{name}",
    "∂E_total/∂{name}",
    "∂Etotal/∂{name}",
    "dE/d{name}",
    "dE_total/d{name}",
    "dEtotal/d{name}",
    "dE_d{name}",
    "grad_{name}",
    "gradient {name}",
)


def _gradient(name: str, expression: str, bias: bool) -> Column:
    forms = _BIAS_GRAD_ALIASES if bias else _GRAD_ALIASES
    return Column(
        key=f"dE_d{name}",
        label=f"∂E/∂{name}",
        formula=expression,
        aliases=tuple(a.format(name=name) for a in forms),
    )


_ACTIVATION_ALIASES = ("out_{}", "out {}", "a({})", "σ({})", "a{}", "{}_out", "sigmoid({})", "out({})")


def _activation(kind: str, net: str, layer_nets: tuple[str, ...]) -> str:
    """The formula of a unit's activation from its net input (softmax reads the whole layer's)."""
    if kind == "sigmoid":
        return f"1/(1+EXP(-{net}))"
    if kind == "tanh":
        return f"TANH({net})"
    if kind == "relu":
        return f"MAX({net},0)"
    if kind == "softmax":
        return f"EXP({net})/({'+'.join(f'EXP({n})' for n in layer_nets)})"
    return net  # linear


def _times_derivative(kind: str, net: str, act: str) -> str:
    """What multiplies dE/da into dE/dnet: a·(1−a) for the sigmoid, as the course writes it."""
    if kind == "sigmoid":
        return f"*{act}*(1-{act})"
    if kind == "tanh":
        return f"*(1-{act}^2)"
    if kind == "relu":
        return f"*IF({net}>0,1,0)"
    return ""  # linear: the derivative is 1


class _Notation:
    """Placeholders of a spec's quantities in one sample block: {h1}, or {h1_s2} with several."""

    def __init__(self, spec: NetworkSpec, block: int):
        self.spec, self.block = spec, block

    def key(self, name: str) -> str:
        shared = name in self.spec.weights or name in self.spec.bias_names or name in ("eta", "sample")
        return name if shared else sample_key(name, self.block, self.spec)

    def __call__(self, name: str) -> str:
        return "{" + self.key(name) + "}"


def _loss(loss: str, kind: str, t: str, a: str) -> str:
    if loss == "half-squared":
        return f"0.5*({t}-{a})^2"
    if loss == "squared":
        return f"({t}-{a})^2"
    if kind == "softmax":
        return f"-{t}*LN({a})"
    return f"-({t}*LN({a})+(1-{t})*LN(1-{a}))"  # binary cross-entropy with sigmoid outputs


def _output_delta(spec: NetworkSpec, q: _Notation, k: int) -> str:
    """δ_o = ∂E/∂o of output k, a product (or parenthesised) so that it can be multiplied inline."""
    unit, t = spec.output.units[k], spec.targets[k]
    a, z, kind = q(f"a_{unit}"), q(unit), spec.output_activation
    if spec.loss == "cross-entropy":
        if kind == "softmax":  # a_k·Σt − t_k (a_k − t_k for targets that sum to 1)
            return f"({a}*({'+'.join(q(x) for x in spec.targets)})-{q(t)})"
        return f"({a}-{q(t)})"  # binary cross-entropy and the sigmoid cancel
    factor = "2*" if spec.loss == "squared" else ""
    return f"{factor}({a}-{q(t)})" + _times_derivative(kind, z, a)


def inline_deltas(spec: NetworkSpec) -> bool:
    """Whether the chain rule is written inline in each gradient, as the course's sheet does (one sample
    per row and at most one hidden layer), rather than in δ columns of their own."""
    return spec.blocks == 1 and len(spec.hidden) <= 1


def _deltas(spec: NetworkSpec, q: _Notation, inline: bool) -> dict[str, str]:
    """Each unit's δ: its expression (inline) or the placeholder of its δ column; and, under the key
    'column:<unit>', the formula of that column."""
    deltas: dict[str, str] = {}
    formulas: dict[str, str] = {}
    for k, unit in enumerate(spec.output.units):
        formulas[unit] = _output_delta(spec, q, k)
        deltas[unit] = formulas[unit] if inline else q(f"delta_{unit}")
    for depth in range(len(spec.layers) - 2, -1, -1):
        layer, above = spec.layers[depth], spec.layers[depth + 1]
        for j, unit in enumerate(layer.units):
            terms = "+".join(
                f"{deltas[u]}*{{{row[j]}}}" for u, row in zip(above.units, above.weights, strict=True)
            )
            formulas[unit] = f"({terms})" + _times_derivative(layer.activation, q(unit), q(f"a_{unit}"))
            deltas[unit] = formulas[unit] if inline else q(f"delta_{unit}")
    return deltas | {f"column:{u}": f for u, f in formulas.items()}


def _mean(terms: list[str], blocks: int) -> str:
    return "+".join(terms) if blocks == 1 else f"({'+'.join(terms)})/{blocks}"


def spec_columns(spec: NetworkSpec) -> tuple[Column, ...]:
    """The column table of any network spec, in the course's order.

    One row per iteration: Iteration (and, online, the sample it trains on); then, per sample block,
    the targets and inputs; the weights of each layer (and its biases) before the units they feed,
    each unit's net input and activation; the per-output losses and E_total; the gradients of every
    weight, then of trained biases. With several samples in a row (full batch) the weights come
    first, each sample's quantities form a block (keys h1_s2), E_total and the gradients are the
    means over the blocks. Beyond the course's shape, each unit's δ gets a column of its own.
    """
    trained = spec.biases == "trained"
    inline = inline_deltas(spec)
    blocks = spec.blocks
    columns = [
        Column(
            "iteration",
            "Iteration",
            None,
            aliases=("Iter", "Iteration #", "Step", "Epoch", "#"),
            number_format="0",
        )
    ]
    if spec.samples is not None and spec.batch == "online":
        columns.append(
            Column("sample", "Sample", f"MOD({{iteration}},{spec.n_samples})+1", number_format="0")
        )

    def data_formula(name: str, block: int) -> str:
        if spec.samples is None:
            return f"{{param:{name}}}"
        if spec.batch == "online" and spec.n_samples > 1:
            # INDEX into a one-row table is #REF! in Gnumeric (it refuses INDEX on a single cell), so one
            # sample is read directly, as in full batch, where online and full are the same anyway.
            return f"INDEX({{table:{name}}},{{sample}})"
        # The samples table's cell of this block's sample (i1_s2), spelled out even for one sample, whose
        # column key is plain i1 (sample_key) but whose value still lives in the table's first row.
        return f"{{param:{name}_s{block}}}"

    def layer_free(layer) -> list[Column]:
        cols = [_free(w, True, ()) for row in layer.weights for w in row]
        cols += [_free(b, trained, _BIAS_ALIASES) for b in dict.fromkeys(layer.biases) if b is not None]
        return cols

    if blocks > 1:
        for layer in spec.layers:
            columns += layer_free(layer)
    block_deltas = []
    for block in range(1, blocks + 1):
        q = _Notation(spec, block)
        for t in spec.targets:
            k = _number(t)
            columns.append(
                Column(
                    q.key(t),
                    q.key(t),
                    data_formula(t, block),
                    aliases=(f"target{k}", f"target {k}", f"y{k}", f"target_o{k}", f"t_o{k}"),
                )
            )
        for i in spec.inputs:
            k = _number(i)
            columns.append(
                Column(
                    q.key(i), q.key(i), data_formula(i, block), aliases=(f"x{k}", f"input{k}", f"input {k}")
                )
            )
        for layer in spec.layers:
            if blocks == 1:
                columns += layer_free(layer)
            nets = tuple(q(u) for u in layer.units)
            net_columns, activation_columns = [], []
            for unit, row, bias in zip(layer.units, layer.weights, layer.biases, strict=True):
                net = "+".join(f"{{{w}}}*{q(src)}" for w, src in zip(row, layer.sources, strict=True))
                if bias is not None:
                    net += f"+{{{bias}}}"
                net_columns.append(
                    Column(
                        q.key(unit),
                        q.key(unit),
                        net,
                        aliases=(f"net_{unit}", f"net {unit}", f"z_{unit}", f"net({unit})")
                        if blocks == 1
                        else (),
                    )
                )
                activation_columns.append(
                    Column(
                        q.key(f"a_{unit}"),
                        q.key(f"a_{unit}"),
                        _activation(layer.activation, q(unit), nets),
                        aliases=tuple(a.format(unit) for a in _ACTIVATION_ALIASES) if blocks == 1 else (),
                    )
                )
            if layer.activation == "softmax":  # each activation reads every net input: those first
                columns += net_columns + activation_columns
            else:  # the course's order: h1, a_h1, h2, a_h2
                columns += [c for pair in zip(net_columns, activation_columns, strict=True) for c in pair]
        for e, t, unit in zip(spec.losses, spec.targets, spec.output.units, strict=True):
            k = _number(e)
            columns.append(
                Column(
                    q.key(e),
                    q.key(e),
                    _loss(spec.loss, spec.output_activation, q(t), q(f"a_{unit}")),
                    aliases=(f"E_{k}", f"E_o{k}", f"Eo{k}", f"E {k}", f"E(o{k})") if blocks == 1 else (),
                )
            )
        deltas = _deltas(spec, q, inline)
        block_deltas.append((q, deltas))
        if not inline:
            for layer in reversed(spec.layers):
                for unit in layer.units:
                    key = q.key(f"delta_{unit}")
                    columns.append(Column(key, _label(key), deltas[f"column:{unit}"]))
    losses = [q(e) for q, _ in block_deltas for e in spec.losses]
    columns.append(
        Column(
            "E_total",
            "E_total",
            _mean(losses, blocks),
            aliases=(
                "E_tot",
                "E_Total",
                "E total",
                "Etotal",
                "E_TOTAL",
                "Total Error",
                "Error",
                "Loss",
                "E_tot(al)",
                "E",
                "E_t",
            ),
        )
    )
    for layer in spec.layers:
        for unit, row in zip(layer.units, layer.weights, strict=True):
            for w, src in zip(row, layer.sources, strict=True):
                terms = [f"{d[unit]}*{q(src)}" for q, d in block_deltas]
                columns.append(_gradient(w, _mean(terms, blocks), bias=False))
    if trained:
        # A bias feeds every unit it is added into, so its gradient sums their error signals.
        for bias in spec.bias_names:
            units = spec.bias_units(bias)
            terms = [d[u] for _, d in block_deltas for u in units]
            columns.append(_gradient(bias, _mean(terms, blocks), bias=True))
    return tuple(columns)


def columns_for(biases: str = "none") -> tuple[Column, ...]:
    """The column table of the course's network: biases "none", "fixed" (Mazur's) or "trained".

    With biases, b1 and b2 get columns (before the sums they enter) and h1, h2 / o1, o2 add them;
    trained biases are updated like the weights and get their gradients' columns last.
    """
    if biases not in BIAS_MODES:
        raise ValueError(f"biases must be one of {', '.join(BIAS_MODES)}, not {biases!r}")
    return spec_columns(NetworkSpec(biases=biases))


COLUMNS: tuple[Column, ...] = columns_for("none")
# Every column of every variant (the trained one has them all), for looking up labels by key.
ALL_COLUMNS: tuple[Column, ...] = columns_for("trained")

BY_KEY: dict[str, Column] = {c.key: c for c in ALL_COLUMNS}
INDEX: dict[str, int] = {c.key: i for i, c in enumerate(COLUMNS)}

_PLACEHOLDER = re.compile(r"\{(?:(prev|param|table):)?(\w+)\}")


def placeholders(template: str) -> list[tuple[str | None, str]]:
    """The (kind, key) pairs a template refers to; kind is None, 'prev' or 'param'."""
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(template)]


def render(template: str, resolve) -> str:
    """Fill a template: resolve(kind, key) returns the text (a cell address) for each placeholder."""
    return _PLACEHOLDER.sub(lambda m: resolve(m.group(1), m.group(2)), template)


def placeholder_name(kind: str | None, key: str) -> str:
    """The name a compiled template reads a placeholder by: `w1`, `prev:w1`, `param:w1`, `eta`."""
    return key if kind is None else f"{kind}:{key}"


def template_tree(template: str):
    """A template's syntax tree, parsed by sheetgen.core.formula (the one formula parser), each
    placeholder a formula.Var named by placeholder_name (`w1`, `prev:w1`, `param:w1`, `eta`)."""
    names: dict[str, str] = {}

    def stand_in(kind, key):  # a defined-name-like token the tokenizer reads as one operand
        token = f"_P{len(names)}"
        names[token] = placeholder_name(kind, key)
        return token

    tree = formula.parse(render(template, stand_in))
    return formula.transform(
        tree, lambda node: formula.Var(names[node.text]) if isinstance(node, formula.Name) else None
    )


def compile_template(template: str):
    """A template as a Python function of a mapping placeholder_name -> value, computed as a sheet would.

    The values may be numbers or numpy arrays (a whole column at once), computed with Excel's
    precedence and functions (sheetgen.core.formula).
    """
    return formula.compile_tree(template_tree(template))
