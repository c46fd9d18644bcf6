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
    {eta}         this sheet's learning-rate cell
Weight columns (and trained biases) have two templates: the first row reads the parameter
block, later rows apply the update to the row above.

A network variant (biases none / fixed / trained, see oracle.BIAS_MODES) has its own column
set, columns_for(biases); COLUMNS is the course's network without biases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sheetgen.core import formula
from sheetgen.core.oracle import BIAS_MODES


@dataclass(frozen=True)
class Column:
    key: str  # oracle quantity (see sheetgen.core.oracle.evaluate); also the placeholder name
    label: str  # header label written by sheetgen build
    formula: str | None  # template for every row (None: Iteration, written as a number)
    next_formula: str | None = None  # template for rows after the first (weights only)
    aliases: tuple[str, ...] = field(default=())  # extra header spellings accepted by verify
    number_format: str = "0.000000000"


def _sig(x: str) -> str:
    return f"1/(1+EXP(-{x}))"


def _weight(k: int) -> Column:
    return Column(
        key=f"w{k}",
        label=f"w{k}",
        formula=f"{{param:w{k}}}",
        next_formula=f"{{prev:w{k}}}-{{eta}}*{{prev:dE_dw{k}}}",
        number_format="0.000000000",
    )


def _grad(k: int, expression: str) -> Column:
    return Column(
        key=f"dE_dw{k}",
        label=f"∂E/∂w{k}",
        formula=expression,
        aliases=(
            f"∂E_total/∂w{k}",
            f"∂E_tot/∂w{k}",
            f"∂Etotal/∂w{k}",
            f"∂E/∂w{k}",
            f"dE/dw{k}",
            f"dE_total/dw{k}",
            f"dEtotal/dw{k}",
            f"dE_tot/dw{k}",
            f"dE_dw{k}",
            f"dEdw{k}",
            f"grad_w{k}",
            f"gradient w{k}",
            f"∂E_t/∂w{k}",
        ),
        number_format="0.000000000",
    )


# Output-layer error signals, written out inline as the course sheet does.
_DELTA_O1 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})"
_DELTA_O2 = "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
_DE_DA_H1 = f"({_DELTA_O1}*{{w5}}+{_DELTA_O2}*{{w7}})"
_DE_DA_H2 = f"({_DELTA_O1}*{{w6}}+{_DELTA_O2}*{{w8}})"


def _bias(k: int, trained: bool) -> Column:
    return Column(
        key=f"b{k}",
        label=f"b{k}",
        formula=f"{{param:b{k}}}",
        next_formula=f"{{prev:b{k}}}-{{eta}}*{{prev:dE_db{k}}}" if trained else None,
        aliases=(f"bias{k}", f"bias {k}", f"b_{k}", f"bias b{k}"),
    )


def _bias_grad(k: int, expression: str) -> Column:
    names = ("∂E/∂b{k}", "∂E_total/∂b{k}", "∂Etotal/∂b{k}", "dE/db{k}", "dE_total/db{k}", "dEtotal/db{k}")
    return Column(
        key=f"dE_db{k}",
        label=f"∂E/∂b{k}",
        formula=expression,
        aliases=(*(n.format(k=k) for n in names), f"dE_db{k}", f"grad_b{k}", f"gradient b{k}"),
    )


def _sum(expression: str, biases: str, bias: str) -> str:
    return expression if biases == "none" else f"{expression}+{{{bias}}}"


def _unit(net: str, expression: str) -> tuple[Column, Column]:
    """A unit's two columns: its weighted sum `net` (h1) and its activation `a_net` (a_h1 = σ(h1))."""
    return (
        Column(net, net, expression, aliases=(f"net_{net}", f"net {net}", f"z_{net}", f"net({net})")),
        Column(
            f"a_{net}",
            f"a_{net}",
            _sig(f"{{{net}}}"),
            aliases=tuple(
                a.format(net)
                for a in ("out_{}", "out {}", "a({})", "σ({})", "a{}", "{}_out", "sigmoid({})", "out({})")
            ),
        ),
    )


def columns_for(biases: str = "none") -> tuple[Column, ...]:
    """The column table of a network variant: biases "none" (the course's), "fixed" (Mazur's) or "trained".

    With biases, b1 and b2 get columns (before the sums they enter) and h1, h2 / o1, o2 add them;
    trained biases are updated like the weights and get their gradients' columns last.
    """
    if biases not in BIAS_MODES:
        raise ValueError(f"biases must be one of {', '.join(BIAS_MODES)}, not {biases!r}")
    trained = biases == "trained"
    with_biases = biases != "none"
    # δ_h1 and δ_h2, the hidden units' error signals, written out inline as the gradients are.
    delta_h1 = f"{_DE_DA_H1}*{{a_h1}}*(1-{{a_h1}})"
    delta_h2 = f"{_DE_DA_H2}*{{a_h2}}*(1-{{a_h2}})"
    return (
        Column(
            "iteration",
            "Iteration",
            None,
            aliases=("Iter", "Iteration #", "Step", "Epoch", "#"),
            number_format="0",
        ),
        Column("t1", "t1", "{param:t1}", aliases=("target1", "target 1", "y1", "target_o1", "t_o1")),
        Column("t2", "t2", "{param:t2}", aliases=("target2", "target 2", "y2", "target_o2", "t_o2")),
        Column("i1", "i1", "{param:i1}", aliases=("x1", "input1", "input 1")),
        Column("i2", "i2", "{param:i2}", aliases=("x2", "input2", "input 2")),
        _weight(1),
        _weight(2),
        _weight(3),
        _weight(4),
        *((_bias(1, trained),) if with_biases else ()),
        *_unit("h1", _sum("{w1}*{i1}+{w2}*{i2}", biases, "b1")),
        *_unit("h2", _sum("{w3}*{i1}+{w4}*{i2}", biases, "b1")),
        _weight(5),
        _weight(6),
        _weight(7),
        _weight(8),
        *((_bias(2, trained),) if with_biases else ()),
        *_unit("o1", _sum("{w5}*{a_h1}+{w6}*{a_h2}", biases, "b2")),
        *_unit("o2", _sum("{w7}*{a_h1}+{w8}*{a_h2}", biases, "b2")),
        Column("E1", "E1", "0.5*({t1}-{a_o1})^2", aliases=("E_1", "E_o1", "Eo1", "E 1", "E(o1)")),
        Column("E2", "E2", "0.5*({t2}-{a_o2})^2", aliases=("E_2", "E_o2", "Eo2", "E 2", "E(o2)")),
        Column(
            "E_total",
            "E_total",
            "{E1}+{E2}",
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
        ),
        _grad(1, f"{delta_h1}*{{i1}}"),
        _grad(2, f"{delta_h1}*{{i2}}"),
        _grad(3, f"{delta_h2}*{{i1}}"),
        _grad(4, f"{delta_h2}*{{i2}}"),
        _grad(5, f"{_DELTA_O1}*{{a_h1}}"),
        _grad(6, f"{_DELTA_O1}*{{a_h2}}"),
        _grad(7, f"{_DELTA_O2}*{{a_h1}}"),
        _grad(8, f"{_DELTA_O2}*{{a_h2}}"),
        # A bias feeds both units of its layer, so its gradient sums both units' error signals.
        *(
            (_bias_grad(1, f"{delta_h1}+{delta_h2}"), _bias_grad(2, f"{_DELTA_O1}+{_DELTA_O2}"))
            if trained
            else ()
        ),
    )


COLUMNS: tuple[Column, ...] = columns_for("none")
# Every column of every variant (the trained one has them all), for looking up labels by key.
ALL_COLUMNS: tuple[Column, ...] = columns_for("trained")

BY_KEY: dict[str, Column] = {c.key: c for c in ALL_COLUMNS}
INDEX: dict[str, int] = {c.key: i for i, c in enumerate(COLUMNS)}

_PLACEHOLDER = re.compile(r"\{(?:(prev|param):)?(\w+)\}")


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
