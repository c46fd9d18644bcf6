"""The one spreadsheet-formula parser of sheetgen: text -> syntax tree -> numpy function or text.

openpyxl's Tokenizer splits a formula into operands, operators and function brackets; a small
precedence-climbing parser builds the tree. Excel's precedence, tightest first:
    negation (-x), percent (x%), ^, * /, + -, &, comparisons (= <> < > <= >=)
so -2^2 is (-2)^2 = 4, and every binary operator associates to the left (2^3^2 = 64).

A tree compiles to a Python function of a binding (cell or variable -> number or numpy array), so
a column of cells, or many random points at once, is one call. Functions the verifier needs are
computed (EXP, TANH, POWER, SUM, SUMSQ, AVERAGE, IF, MOD, SQRT, LN, LOG, ABS, MIN, MAX, PRODUCT,
ROUND);
anything else (an unknown function, a defined name, text) raises Unsupported, never something worse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, reduce

import numpy as np
from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError

from sheetgen.core.xlsx import column_letters, column_number

MAX_AREA_CELLS = 10_000  # a range wider than any table's column is not something a cell of it reads
MAX_DEPTH = 200  # nesting levels (a+b+c+… nests one level per term); a course formula has under 20


class FormulaError(ValueError):
    """The text is not a formula this parser can read."""


class Unsupported(ValueError):
    """A readable formula that cannot be computed here (unknown function, defined name, text)."""


# --- the syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class ErrorLiteral:
    text: str


@dataclass(frozen=True)
class Ref:
    """A cell: 1-based row and column; sheet None means the formula's own sheet."""

    sheet: str | None
    row: int
    col: int
    row_abs: bool = False
    col_abs: bool = False


@dataclass(frozen=True)
class Area:
    """A range such as A1:B2 (both corners given)."""

    first: Ref
    last: Ref

    def cells(self) -> list[Ref]:
        rows = range(min(self.first.row, self.last.row), max(self.first.row, self.last.row) + 1)
        cols = range(min(self.first.col, self.last.col), max(self.first.col, self.last.col) + 1)
        if len(rows) * len(cols) > MAX_AREA_CELLS:
            raise Unsupported(f"range {to_text(self)} is too large")
        first = self.first  # the corner's $ flags: how the range moves when its formula is filled
        return [Ref(first.sheet, r, c, first.row_abs, first.col_abs) for r in rows for c in cols]


@dataclass(frozen=True)
class Name:
    """A defined name, or anything else in operand position that is not a cell."""

    text: str


@dataclass(frozen=True)
class Var:
    """A named variable: what a cell reference becomes once it is known what quantity it holds."""

    name: str


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "+"
    operand: object


@dataclass(frozen=True)
class Percent:
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    name: str  # upper case, without Excel's _xlfn. prefix
    args: tuple


# --- parsing ----------------------------------------------------------------------------------

_BINARY_PRECEDENCE = {
    "=": 1,
    "<>": 1,
    "<": 1,
    ">": 1,
    "<=": 1,
    ">=": 1,
    "&": 2,
    "+": 3,
    "-": 3,
    "*": 4,
    "/": 4,
    "^": 5,
}
_PERCENT, _UNARY, _ATOM = 6, 7, 8
_CELL = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)(\d{1,7})$")


def _split_sheet(text: str) -> tuple[str | None, str]:
    if "!" not in text:
        return None, text
    sheet, _, cell = text.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, cell


def _cell(sheet: str | None, text: str) -> Ref | None:
    match = _CELL.match(text)
    if match is None:
        return None
    col, row = column_number(match.group(2)), int(match.group(4))
    if not (1 <= row <= 1_048_576 and 1 <= col <= 16_384):
        return None
    return Ref(sheet, row, col, row_abs=bool(match.group(3)), col_abs=bool(match.group(1)))


def _operand(token: Token):
    value, kind = token.value, token.subtype
    if kind == Token.NUMBER:
        return Num(float(value))
    if kind == Token.TEXT:
        return Text(value[1:-1].replace('""', '"'))
    if kind == Token.LOGICAL:
        return Bool(value.upper() == "TRUE")
    if kind == Token.ERROR:
        return ErrorLiteral(value)
    sheet, body = _split_sheet(value)
    if ":" in body:
        first, _, last = body.partition(":")
        a, b = _cell(sheet, first), _cell(sheet, last)
        if a is None or b is None:
            return Name(value)  # whole columns/rows (A:A, 1:1) or names: nothing a proof can bind
        return Area(a, b)
    return _cell(sheet, body) or Name(value)


def _sumproduct(args: list, text: str):
    """SUMPRODUCT(B5:C5, D5:E5) as the arithmetic it is, B5*D5+C5*E5, so every reader of trees knows
    it; other arguments (ranges of different shapes among them) stay a call, which nothing computes
    (Unsupported when compiled)."""
    if not args or not all(isinstance(a, Area) for a in args):
        return Call("SUMPRODUCT", tuple(args))
    try:
        columns = [a.cells() for a in args]
    except Unsupported:  # a range too large to be a table's
        return Call("SUMPRODUCT", tuple(args))
    shapes = {(abs(a.last.row - a.first.row), abs(a.last.col - a.first.col)) for a in args}
    if len(shapes) != 1:  # a row against a column: #VALUE! in a spreadsheet, so not computed here
        return Call("SUMPRODUCT", tuple(args))
    terms = [reduce(lambda x, y: Binary("*", x, y), cells) for cells in zip(*columns, strict=True)]
    return reduce(lambda x, y: Binary("+", x, y), terms)


class _Parser:
    def __init__(self, tokens: list[Token], text: str):
        self.tokens, self.pos, self.text = tokens, 0, text

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FormulaError(f"formula ends too early: {self.text}")
        self.pos += 1
        return token

    def expression(self, min_precedence: int = 1):
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token.type != Token.OP_IN:
                return left
            precedence = _BINARY_PRECEDENCE.get(token.value)
            if precedence is None:
                raise FormulaError(f"operator {token.value!r} not understood in {self.text}")
            if precedence < min_precedence:
                return left
            self.take()
            right = self.expression(precedence + 1)  # left-associative: the right side binds tighter
            left = Binary(token.value, left, right)

    def unary(self):
        token = self.peek()
        if token is not None and token.type == Token.OP_PRE:
            self.take()
            node = Unary(token.value, self.unary())
        else:
            node = self.atom()
        while (token := self.peek()) is not None and token.type == Token.OP_POST:
            self.take()
            node = Percent(node)
        return node

    def atom(self):
        token = self.take()
        if token.type == Token.OPERAND:
            return _operand(token)
        if token.type == Token.PAREN and token.subtype == Token.OPEN:  # openpyxl: SUBEXPR OPEN
            inner = self.expression()
            self.close(Token.PAREN)
            return inner
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            name = token.value[:-1].upper().removeprefix("_XLFN.").removeprefix("_XLWS.")
            args = []
            if not self.closing(Token.FUNC):
                args.append(self.argument())
                while (sep := self.peek()) is not None and sep.type == Token.SEP and sep.subtype == Token.ARG:
                    self.take()
                    args.append(self.argument())
            self.close(Token.FUNC)
            if name == "SUMPRODUCT":
                return _sumproduct(args, self.text)
            return Call(name, tuple(args))
        raise FormulaError(f"unexpected {token.value!r} in {self.text}")

    def argument(self):
        token = self.peek()
        if token is not None and (token.type == Token.SEP or self.closing(Token.FUNC)):
            return Text("")  # an empty argument, as in IF(A1,,2)
        return self.expression()

    def closing(self, kind: str) -> bool:
        token = self.peek()
        return token is not None and token.type == kind and token.subtype == Token.CLOSE

    def close(self, kind: str) -> None:
        if not self.closing(kind):
            raise FormulaError(f"unbalanced brackets in {self.text}")
        self.take()


def parse(text: str):
    """The syntax tree of a formula ('=' optional). Raises FormulaError when it cannot be read.

    Trees are immutable, so each text is parsed once: a class's books, and a book's LR sheets,
    repeat the same formulas at the same cells.
    """
    return _parse(text)


@lru_cache(maxsize=8192)
def _parse(text: str):
    source = text if text.startswith("=") else "=" + text
    try:
        tokens = [t for t in Tokenizer(source).items if t.type != Token.WSPACE]
    except (TokenizerError, ValueError, IndexError) as error:
        raise FormulaError(f"cannot read formula {text!r}: {error}") from None
    if not tokens:
        raise FormulaError(f"empty formula {text!r}")
    parser = _Parser(tokens, text)
    try:
        tree = parser.expression()
    except RecursionError:
        raise FormulaError(f"formula nested too deeply: {text[:60]}") from None
    if parser.peek() is not None:
        raise FormulaError(f"unexpected {parser.peek().value!r} in {text}")
    if _depth(tree) > MAX_DEPTH:  # compiling and printing recurse: refuse before they would overflow
        raise FormulaError(f"formula nested too deeply (over {MAX_DEPTH} levels): {text[:60]}")
    return tree


def _depth(tree) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(node))
    return deepest


# --- walking and rewriting --------------------------------------------------------------------


def children(node) -> tuple:
    if isinstance(node, Unary | Percent):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def rebuild(node, kids: tuple):
    """`node` with its children replaced by `kids` (same count)."""
    if isinstance(node, Unary):
        return Unary(node.op, kids[0])
    if isinstance(node, Percent):
        return Percent(kids[0])
    if isinstance(node, Binary):
        return Binary(node.op, kids[0], kids[1])
    if isinstance(node, Call):
        return Call(node.name, tuple(kids))
    return node


def walk(node):
    """Every node of the tree, parents before children."""
    yield node
    for child in children(node):
        yield from walk(child)


def transform(node, change):
    """Rebuild the tree bottom-up; change(node) returns a replacement or None to keep the node."""
    kids = children(node)
    if kids:
        node = rebuild(node, tuple(transform(k, change) for k in kids))
    replaced = change(node)
    return node if replaced is None else replaced


def references(node) -> list[Ref]:
    """Every cell the formula reads, ranges expanded."""
    found: list[Ref] = []
    for item in walk(node):
        if isinstance(item, Ref):
            found.append(item)
        elif isinstance(item, Area):
            found.extend(item.cells())
    return found


# --- computing --------------------------------------------------------------------------------


def _aggregate(values, combine):
    return reduce(combine, (np.asarray(v, dtype=np.float64) for v in values))


def _flat(args) -> list:
    flat = []
    for arg in args:
        flat.extend(arg if isinstance(arg, list) else [arg])
    return flat


def _round(x, digits=0):
    scale = 10.0 ** np.asarray(digits)
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5) / scale  # Excel rounds half away from zero


def _log(x, base=10.0):
    return np.log(x) / np.log(base)


# name -> (fewest args, most args (None: any), function of the evaluated args, aggregates ranges)
FUNCTIONS = {
    "EXP": (1, 1, np.exp, False),
    "TANH": (1, 1, np.tanh, False),  # tanh units; σ(x) = 0.5·(1 + tanh(x/2)), as some courses write it
    "MOD": (2, 2, lambda x, y: x - y * np.floor(x / y), False),  # Excel's: the sign of the divisor
    "POWER": (2, 2, np.power, False),
    "SQRT": (1, 1, np.sqrt, False),
    "LN": (1, 1, np.log, False),
    "LOG": (1, 2, _log, False),
    "ABS": (1, 1, np.abs, False),
    "SIGN": (1, 1, lambda x: np.sign(x) + 0.0, False),  # the perceptron's ±1 output; SIGN(0) = 0
    "ROUND": (2, 2, _round, False),
    "SUM": (1, None, lambda *a: _aggregate(_flat(a), np.add), True),
    "AVERAGE": (1, None, lambda *a: _aggregate(_flat(a), np.add) / len(_flat(a)), True),
    "PRODUCT": (1, None, lambda *a: _aggregate(_flat(a), np.multiply), True),
    "SUMSQ": (1, None, lambda *a: _aggregate([np.square(v) for v in _flat(a)], np.add), True),  # a loss
    "MIN": (1, None, lambda *a: _aggregate(_flat(a), np.minimum), True),
    "MAX": (1, None, lambda *a: _aggregate(_flat(a), np.maximum), True),
}
_COMPARE = {
    "=": np.equal,
    "<>": np.not_equal,
    "<": np.less,
    ">": np.greater,
    "<=": np.less_equal,
    ">=": np.greater_equal,
}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


def ref_key(ref: Ref, sheet: str | None = None) -> tuple[str | None, int, int]:
    """The binding key of a cell: (sheet, row, col), the formula's own sheet given as `sheet`."""
    return (ref.sheet or sheet, ref.row, ref.col)


def compile_tree(node, sheet: str | None = None):
    """A function binding -> value computing the tree with numpy (arrays evaluate element-wise).

    The binding maps Var names, and (sheet, row, col) keys of cells (ref_key), to numbers or arrays.
    Raises Unsupported for what cannot be computed as numbers.
    """
    if isinstance(node, Num | Bool):
        value = float(node.value)
        return lambda env: value
    if isinstance(node, Var):
        name = node.name
        return lambda env: env[name]
    if isinstance(node, Ref):
        key = ref_key(node, sheet)
        return lambda env: env[key]
    if isinstance(node, Area):
        keys = [ref_key(cell, sheet) for cell in node.cells()]
        return lambda env: [env[k] for k in keys]
    if isinstance(node, Unary):
        inner = compile_tree(node.operand, sheet)
        return (lambda env: np.negative(inner(env))) if node.op == "-" else inner
    if isinstance(node, Percent):
        inner = compile_tree(node.operand, sheet)
        return lambda env: np.divide(inner(env), 100.0)
    if isinstance(node, Binary):
        left, right = compile_tree(node.left, sheet), compile_tree(node.right, sheet)
        if node.op in _ARITHMETIC:
            op = _ARITHMETIC[node.op]
        elif node.op in _COMPARE:
            test = _COMPARE[node.op]

            def op(a, b, test=test):
                return np.asarray(test(a, b), dtype=np.float64)

        else:
            raise Unsupported(f"text operator {node.op!r}")
        return lambda env: op(left(env), right(env))
    if isinstance(node, Call):
        return _compile_call(node, sheet)
    if isinstance(node, Text):
        raise Unsupported(f"text {node.value!r}")
    if isinstance(node, Name):
        raise Unsupported(f"the name {node.text!r} (a defined name or a whole row/column)")
    raise Unsupported(f"{to_text(node)}")


def _compile_call(node: Call, sheet):
    if node.name == "IF":
        if not 2 <= len(node.args) <= 3:
            raise Unsupported(f"IF with {len(node.args)} arguments")
        parts = [compile_tree(a, sheet) for a in node.args]
        otherwise = parts[2] if len(parts) == 3 else (lambda env: 0.0)
        return lambda env: np.where(np.asarray(parts[0](env)) != 0, parts[1](env), otherwise(env))
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        raise Unsupported(f"function {node.name}")
    fewest, most, function, aggregates = spec
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        raise Unsupported(f"{node.name} with {len(node.args)} arguments")
    if not aggregates and any(isinstance(a, Area) for a in node.args):
        raise Unsupported(f"a range inside {node.name}")
    parts = [compile_tree(a, sheet) for a in node.args]
    return lambda env: function(*(p(env) for p in parts))


def evaluate(node, env, sheet: str | None = None):
    """Compute a tree once (see compile_tree); floating-point warnings are silenced, results may be nan."""
    with np.errstate(all="ignore"):
        return compile_tree(node, sheet)(env)


# --- printing ---------------------------------------------------------------------------------


def _precedence(node) -> int:
    if isinstance(node, Binary):
        return _BINARY_PRECEDENCE[node.op]
    if isinstance(node, Percent):
        return _PERCENT
    if isinstance(node, Unary):
        return _UNARY
    if isinstance(node, Num) and node.value < 0:
        return _UNARY
    return _ATOM


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _sheet_prefix(sheet: str | None) -> str:
    if sheet is None:
        return ""
    if re.fullmatch(r"[A-Za-z_][\w.]*", sheet):
        return sheet + "!"
    return "'" + sheet.replace("'", "''") + "'!"


def _ref_text(ref: Ref) -> str:
    return f"{'$' if ref.col_abs else ''}{column_letters(ref.col)}{'$' if ref.row_abs else ''}{ref.row}"


def to_text(node, name=None) -> str:
    """Formula text of a tree (no leading '='), with as few brackets as precedence allows.

    name(node) may return the text to print for a Ref or Var (e.g. a quantity's label), or None.
    """
    if name is not None and isinstance(node, Ref | Var | Area):
        shown = name(node)
        if shown is not None:
            return shown
    if isinstance(node, Num):
        return _number(node.value)
    if isinstance(node, Text):
        return '"' + node.value.replace('"', '""') + '"'
    if isinstance(node, Bool):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, ErrorLiteral):
        return node.text
    if isinstance(node, Ref):
        return _sheet_prefix(node.sheet) + _ref_text(node)
    if isinstance(node, Area):
        return _sheet_prefix(node.first.sheet) + _ref_text(node.first) + ":" + _ref_text(node.last)
    if isinstance(node, Name):
        return node.text
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Unary):
        inner = to_text(node.operand, name)
        if _precedence(node.operand) < _UNARY:
            inner = f"({inner})"
        return node.op + inner
    if isinstance(node, Percent):
        inner = to_text(node.operand, name)
        return (f"({inner})" if _precedence(node.operand) < _PERCENT else inner) + "%"
    if isinstance(node, Binary):
        mine = _BINARY_PRECEDENCE[node.op]
        left, right = to_text(node.left, name), to_text(node.right, name)
        if _precedence(node.left) < mine:
            left = f"({left})"
        if _precedence(node.right) <= mine:
            right = f"({right})"
        return f"{left}{node.op}{right}"
    if isinstance(node, Call):
        return f"{node.name}(" + ",".join(to_text(a, name) for a in node.args) + ")"
    raise TypeError(f"not a formula node: {node!r}")


# --- relative shapes --------------------------------------------------------------------------

# A cell reference in formula text (outside string literals): optional sheet, $ flags, column, row.
_REFERENCE_TEXT = re.compile(
    r"(?<![\w.$'])((?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?(\$?)([A-Za-z]{1,3})(\$?)(\d{1,7})(?![\w(!.])"
)
_STRING = re.compile(r'("(?:[^"]|"")*")')


_DIGITS = re.compile(r"(\d+)")
_RELATIVE_ROWS: dict[str, tuple[bool, ...]] = {}  # skeleton -> which digit runs are relative row numbers


def _relative_rows(text: str, chunks: list[str]) -> tuple[bool, ...]:
    """For each digit run of `text` (chunks[1::2]), whether it is the row of a relative reference."""
    rows = set()
    strings = [m.span() for m in _STRING.finditer(text)]
    for match in _REFERENCE_TEXT.finditer(text):
        start = match.start(5)
        if not match.group(4) and not any(a <= start < b for a, b in strings):
            rows.add(start)
    flags, position = [], 0
    for i, chunk in enumerate(chunks):
        if i % 2:
            flags.append(position in rows)
        position += len(chunk)
    return tuple(flags)


def shape(text: str, row: int, col: int) -> tuple:
    """The formula as its cell sees it: relative row numbers as offsets from the cell's row.

    Two cells of one column whose shapes are equal hold the same formula relative to themselves (a
    column filled down has one shape), so the expensive parse and proof run once per shape. Only
    digits differ between such cells, so the text is split at digit runs (fast, in C) and the runs
    that are rows of relative references (found once per skeleton) become offsets.
    """
    chunks = _DIGITS.split(text)
    skeleton = "#".join(chunks[0::2])
    flags = _RELATIVE_ROWS.get(skeleton)
    if flags is None:
        flags = _RELATIVE_ROWS[skeleton] = _relative_rows(text, chunks)
        if len(_RELATIVE_ROWS) > 100_000:  # bounded: a pathological book must not grow it forever
            _RELATIVE_ROWS.clear()
    digits = chunks[1::2]
    return (skeleton, *(int(d) - row if relative else d for d, relative in zip(digits, flags, strict=True)))
