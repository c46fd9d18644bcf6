"""sheetgen.core.formula: Excel's precedence, functions, ranges, errors, printing and shapes.

Expected values are worked out by hand from Excel's documented rules (negation binds tighter than
^, every binary operator associates left), not taken from the parser.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sheetgen.core import formula
from sheetgen.core.formula import Area, Binary, Call, Num, Ref, Unary

A1, B1, C1 = (None, 1, 1), (None, 1, 2), (None, 1, 3)


def value(text: str, env=None):
    return float(formula.evaluate(formula.parse(text), env or {}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2^2", 4.0),  # Excel: (-2)^2
        ("0-2^2", -4.0),
        ("-(2^2)", -4.0),
        ("2^3^2", 64.0),  # left-associative: (2^3)^2
        ("1-2-3", -4.0),
        ("8/4/2", 1.0),
        ("2+3*4", 14.0),
        ("(2+3)*4", 20.0),
        ("2*-3", -6.0),
        ("2^-1", 0.5),
        ("50%", 0.5),
        ("-50%^2", 0.25),  # negation, then percent, then ^
        ("1+2=3", 1.0),
        ("2<>2", 0.0),
        ("3>=2.5", 1.0),
        ("1E-3+.5", 0.501),
        ("+3", 3.0),
        ("--3", 3.0),
    ],
)
def test_precedence_and_literals(text, expected):
    assert value(text) == pytest.approx(expected, rel=1e-15)


def test_tree_shape_of_unary_minus_and_power():
    assert formula.parse("-2^2") == Binary("^", Unary("-", Num(2.0)), Num(2.0))
    assert formula.parse("=A1-B1*C1") == Binary(
        "-", Ref(None, 1, 1), Binary("*", Ref(None, 1, 2), Ref(None, 1, 3))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EXP(1)", math.e),
        ("POWER(2,10)", 1024.0),
        ("SQRT(16)", 4.0),
        ("LN(EXP(2))", 2.0),
        ("LOG(1000)", 3.0),
        ("LOG(8,2)", 3.0),
        ("ABS(-3)", 3.0),
        ("MIN(3,1,2)", 1.0),
        ("MAX(3,1,2)", 3.0),
        ("PRODUCT(2,3,4)", 24.0),
        ("ROUND(2.5,0)", 3.0),  # half away from zero
        ("ROUND(-2.5,0)", -3.0),
        ("ROUND(1.2345,2)", 1.23),
        ("IF(1>2,10,20)", 20.0),
        ("IF(2>1,10)", 10.0),
        ("_xlfn.POWER(3,2)", 9.0),
        ("1/(1+EXP(-0))", 0.5),
    ],
)
def test_functions(text, expected):
    assert value(text) == pytest.approx(expected, rel=1e-14)


def test_references_sheets_and_ranges():
    env = {A1: 2.0, B1: 3.0, C1: 5.0, ("Inputs", 3, 2): 7.0, ("LR 0.5", 2, 2): 11.0}
    assert value("A1*B1+$C$1", env) == 11.0
    assert value("Inputs!$B$3+'LR 0.5'!B2", env) == 18.0
    assert value("SUM(A1:C1)", env) == 10.0
    assert value("SUM(A1:B1,C1)*2", env) == 20.0
    tree = formula.parse("SUM('My ''Sheet'''!A1:B2)")
    (area,) = tree.args
    assert isinstance(area, Area) and area.first.sheet == "My 'Sheet'"
    assert [(r.row, r.col) for r in area.cells()] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    refs = formula.references(formula.parse("$A$1+B$2*$C3"))
    assert [(r.row, r.col, r.row_abs, r.col_abs) for r in refs] == [
        (1, 1, True, True),
        (2, 2, True, False),
        (3, 3, False, True),
    ]


def test_vectorised_over_arrays():
    env = {A1: np.array([0.0, 1.0, -1.0])}
    got = formula.evaluate(formula.parse("1/(1+EXP(-A1))"), env)
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-env[A1])), rtol=1e-15)


@pytest.mark.parametrize("text", ["FOO(1)", "eta*2", "A:A", 'CONCAT(A1,"x")', 'A1&"x"', '"text"', "EXP(1,2)"])
def test_what_cannot_be_computed_is_unsupported_never_a_crash(text):
    tree = formula.parse(text)
    with pytest.raises(formula.Unsupported):
        formula.compile_tree(tree)


@pytest.mark.parametrize("text", ["1-", "(1+2", "SUM(1,2", "1+)", "", "=", "1 2"])
def test_unreadable_text_is_a_formula_error(text):
    with pytest.raises(formula.FormulaError):
        formula.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "-2^2",
        "-(2^2)",
        "A1-(B1-C1)",
        "A1-B1-C1",
        "2^(3^2)",
        "(A1+B1)*C1",
        "1/(1+EXP(-A1))",
        "0.5*(B1-A1)^2",
        "SUM(A1:B2,$C$3)*2%",
        "'LR 0.5'!$B$2*Inputs!B3",
        "IF(A1>=2,1,-1)",
    ],
)
def test_printing_round_trips(text):
    tree = formula.parse(text)
    assert formula.parse(formula.to_text(tree)) == tree
    assert formula.to_text(tree) == text


def test_printing_names_variables():
    tree = formula.transform(
        formula.parse("A1*(1-A1)"), lambda n: formula.Var("a_h1") if isinstance(n, Ref) else None
    )
    assert formula.to_text(tree) == "a_h1*(1-a_h1)"
    assert formula.to_text(Call("EXP", (Unary("-", formula.Var("h1")),))) == "EXP(-h1)"


def test_shape_is_the_formula_relative_to_its_cell():
    down = formula.shape("(B6-$C$2)*Inputs!$B$4+SUM(A1:A5)", 6, 3)
    assert down == formula.shape("(B7-$C$2)*Inputs!$B$4+SUM(A2:A6)", 7, 3)
    assert down != formula.shape("(B7-$C$2)*Inputs!$B$4+SUM(A2:A6)", 6, 3)
    assert formula.shape('A1&"B2"', 1, 1) == formula.shape('A2&"B2"', 2, 1)  # text is not a reference
    assert formula.shape('A1&"B2"', 1, 1) != formula.shape('A2&"B3"', 2, 1)
    assert formula.shape("$A$1*0.5", 1, 1) != formula.shape("$A$2*0.5", 2, 1)  # absolute rows stay


def test_a_formula_too_deep_to_compile_is_refused_in_parsing():
    chain = "+".join(f"A{i}" for i in range(1, 3000))  # one nesting level per term
    with pytest.raises(formula.FormulaError, match="too deeply"):
        formula.parse(chain)
    assert value("+".join(["1"] * 150)) == 150.0
