"""Specs drawn at random across everything `sheetgen build` writes, their books, and planted mistakes.

A test helper: `draw(rng)` returns a valid spec as build flags (sizes with 0 to 2 hidden layers within
the spec's caps, every hidden and output activation, loss, bias mode and per, samples, batch, an init
seed); `build` writes its book, `strip_spec` removes the recorded spec (so only formulas say what the
network is), and `plant` edits one column of the first LR sheet the way a student's mistake would:

- "sign": an update w + η·∂E/∂w;
- "eta": an update reading η from another LR sheet's η cell;
- "other unit": a hidden unit's derivative taken of another unit of its layer;
- "wrong weight": a backward formula reading another weight of the same layer;
- "preact": an output weight's gradient reading the pre-activation h1 where a_h1 belongs;
- "constant": a wrong number (the mean over N samples divided by N + 1, a derivative's 1 as 2, or the
  loss's ½ as ¼).

The first wrong cell is the first planted cell whose value LibreOffice changes, or a planted cell
before it whose value happens to be right (an update whose gradient is 0 through a dead ReLU):
its formula is wrong all the same.

The truth a planted cell is measured against is LibreOffice's recalculation of the unplanted book,
never sheetgen's oracle.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import openpyxl

from sheetgen.cli import main
from sheetgen.core.spec import MAX_WEIGHTS, NetworkSpec

KINDS = ("sign", "eta", "other unit", "wrong weight", "preact", "constant")
SHEET = "LR 0.5"
OTHER_SHEET = "LR 1"
LR_LIST = "0.5,1"
_REF = r"(?<![A-Z$!])\$?([A-Z]{1,3})\$?(\d+)(?!\d)"


@dataclass
class Drawn:
    """A drawn spec: its build flags, its CSV of samples (or None), and the spec itself."""

    name: str
    flags: list[str]
    csv: str | None
    spec: NetworkSpec
    iterations: int


def draw(rng: np.random.Generator, name: str) -> Drawn:
    """A valid spec across everything build writes."""
    while True:
        n_hidden = int(rng.choice([0, 1, 1, 2, 2]))
        sizes = [int(rng.integers(1, 4))]
        sizes += [int(rng.integers(1, 5)) for _ in range(n_hidden)]
        sizes.append(int(rng.integers(1, 4)))
        if sum(a * b for a, b in zip(sizes, sizes[1:], strict=False)) <= MAX_WEIGHTS:
            break
    activation = str(rng.choice(["sigmoid", "tanh", "relu", "linear"]))
    outputs = ["sigmoid", "linear"] + (["softmax"] if sizes[-1] >= 2 else [])
    output_activation = str(rng.choice(outputs))
    if output_activation == "softmax":
        loss = "cross-entropy"
    elif output_activation == "linear":
        loss = str(rng.choice(["half-squared", "squared"]))
    else:
        loss = str(rng.choice(["half-squared", "squared", "cross-entropy"]))
    biases = str(rng.choice(["none", "fixed", "trained"]))
    bias_per = str(rng.choice(["layer", "unit"]))
    n_samples = int(rng.choice([0, 0, 1, 2, 3, 4]))
    batch = str(rng.choice(["full", "online"]))
    flags = ["--network", "-".join(map(str, sizes)), "--activation", activation]
    flags += ["--output-activation", output_activation, "--loss", loss, "--biases", biases]
    flags += ["--bias-per", bias_per, "--init-seed", str(int(rng.integers(0, 1000)))]
    csv = None
    samples = None
    if n_samples:
        header = [f"i{k}" for k in range(1, sizes[0] + 1)] + [f"t{k}" for k in range(1, sizes[-1] + 1)]
        rows = []
        for _ in range(n_samples):
            x = np.round(rng.uniform(-1, 1, sizes[0]), 3)
            if output_activation == "softmax":
                t = np.zeros(sizes[-1])
                t[int(rng.integers(0, sizes[-1]))] = 1.0
            elif output_activation == "sigmoid":
                t = np.round(rng.uniform(0.05, 0.95, sizes[-1]), 3)
            else:
                t = np.round(rng.uniform(-1, 1, sizes[-1]), 3)
            rows.append((tuple(x), tuple(t)))
        csv = ",".join(header) + "\n" + "".join(",".join(f"{v:g}" for v in x + t) + "\n" for x, t in rows)
        samples = tuple(rows)
        flags += ["--samples", "{csv}", "--batch", batch]
    else:
        flags += ["--set", *_one_sample(rng, sizes, output_activation)]
    spec = NetworkSpec(
        sizes=tuple(sizes),
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        biases=biases,
        bias_per=bias_per,
        samples=samples,
        batch=batch if samples else "full",
    )
    iterations = max(3, spec.n_samples + 1)
    return Drawn(name, flags, csv, spec, iterations)


def _one_sample(rng, sizes, output_activation) -> list[str]:
    values = [f"i{k}={rng.uniform(-1, 1):.3f}" for k in range(1, sizes[0] + 1)]
    for k in range(1, sizes[-1] + 1):
        low = 0.05 if output_activation != "linear" else -1
        values.append(f"t{k}={rng.uniform(low, 0.95):.3f}")
    if output_activation == "softmax":  # a one-hot target
        hot = int(rng.integers(1, sizes[-1] + 1))
        values = values[: sizes[0]] + [f"t{k}={1 if k == hot else 0}" for k in range(1, sizes[-1] + 1)]
    out = []
    for v in values:
        out += [v, "--set"]
    return out[:-1]


def build(drawn: Drawn, folder: Path) -> Path:
    flags = list(drawn.flags)
    if drawn.csv is not None:
        csv = folder / f"{drawn.name}.csv"
        csv.write_text(drawn.csv)
        flags = [str(csv) if f == "{csv}" else f for f in flags]
    path = folder / f"{drawn.name}.xlsx"
    argv = ["build", *flags, "--iterations", str(drawn.iterations), "--lr-list", LR_LIST, "-o", str(path)]
    assert main(argv) == 0, argv
    return path


def strip_spec(source: Path, target: Path) -> None:
    """A copy without the recorded spec and generator: only its formulas say what network it is."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/custom.xml":
                data = re.sub(
                    rb'<property[^>]*name="(network|generator)".*?</property>', b"", data, flags=re.S
                )
            zout.writestr(item, data)


# -- planting ------------------------------------------------------------------------------------------


def _sheet_part(path: Path, title: str) -> str:
    """The zip part of a sheet, by its title (workbook.xml and its relationships)."""
    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(title)}"[^>]*r:id="([^"]+)"', workbook).group(1)
    target = re.search(rf'<Relationship [^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels)
    if target is None:
        target = re.search(rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + target.group(1).removeprefix("/xl/")


def _rewrite(source: Path, target: Path, part: str, formulas: dict[str, str]) -> None:
    """Replace the formulas of some cells of one sheet part (cached values kept, as a hand edit would)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                text = data.decode()
                for cell, new in formulas.items():
                    pattern = re.compile(rf'(<c r="{cell}"[^>]*><f>)([^<]*)(</f>)')
                    assert pattern.search(text), cell
                    text = pattern.sub(
                        lambda m, new=new: m.group(1) + escape(new) + m.group(3), text, count=1
                    )
                data = text.encode()
            zout.writestr(item, data)


class _Sheet:
    """The first LR sheet's table: each column's key, letter and formulas."""

    def __init__(self, path: Path, spec: NetworkSpec):
        from sheetgen.core.columns import spec_columns

        sheet = openpyxl.load_workbook(path)[SHEET]
        self.spec = spec
        header = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "Iteration")
        columns = spec_columns(spec)
        self.letter = {c.key: sheet.cell(header, n).column_letter for n, c in enumerate(columns, start=1)}
        self.rows = []
        r = header + 1
        while sheet.cell(r, 1).value is not None:
            self.rows.append(r)
            r += 1
        self.formula = {
            (c.key, r): sheet.cell(r, n).value
            for n, c in enumerate(columns, start=1)
            for r in self.rows
            if isinstance(sheet.cell(r, n).value, str)
        }

    def keys(self):
        return list(self.letter)


def _units(spec: NetworkSpec, layer_index: int) -> tuple[str, ...]:
    return spec.layers[layer_index].units


def _derivative_pattern(spec: NetworkSpec, letter: str, pre_letter: str) -> re.Pattern | None:
    """The text of a hidden unit's derivative f'(net) as build writes it, for the unit's columns."""
    a, z = rf"(?<![A-Z$]){letter}(\d+)", rf"(?<![A-Z$]){pre_letter}(\d+)"
    return {
        "sigmoid": re.compile(rf"{a}\*\(1-{letter}\1\)"),
        "tanh": re.compile(rf"\(1-{a}\^2\)"),
        "relu": re.compile(rf"IF\({z}>0,1,0\)"),
    }.get(spec.activation)


def plan(path: Path, spec: NetworkSpec, kind: str, rng) -> tuple[dict[str, str], str] | None:
    """{cell: planted formula} for the whole column (from its first row it applies to) and the column's
    key; None when the spec has nothing this kind of mistake can be planted in."""
    sheet = _Sheet(path, spec)
    suffixes = [f"_s{s}" for s in range(1, spec.blocks + 1)] if spec.blocks > 1 else [""]
    later = sheet.rows[1:]

    def column(key, rows, edit):
        out = {}
        for r in rows:
            text = sheet.formula.get((key, r))
            if text is None:
                return None
            new = edit(text.removeprefix("="), r)
            if new is None or new == text.removeprefix("="):
                return None
            out[f"{sheet.letter[key]}{r}"] = new
        return out

    def first(options):
        options = list(options)
        order = rng.permutation(len(options)) if options else []
        for i in order:
            key, rows, edit = options[i]
            found = column(key, rows, edit)
            if found:
                return found, key
        return None

    free = [w for w in spec.free if w in sheet.letter]
    if kind == "sign":
        return first((w, later, lambda t, r: t.replace("-$B$2*", "+$B$2*", 1)) for w in free)
    if kind == "eta":
        return first((w, later, lambda t, r: t.replace("$B$2", f"'{OTHER_SHEET}'!$B$2", 1)) for w in free)
    backward = [k for k in sheet.keys() if k.startswith(("delta_", "dE_d"))]
    if kind == "other unit":
        options = []
        for layer in spec.hidden:
            if len(layer.units) < 2:
                continue
            for u, unit in enumerate(layer.units):
                other = layer.units[(u + 1) % len(layer.units)]
                for sfx in suffixes:
                    a, z = sheet.letter[f"a_{unit}{sfx}"], sheet.letter[f"{unit}{sfx}"]
                    a2, z2 = sheet.letter[f"a_{other}{sfx}"], sheet.letter[f"{other}{sfx}"]
                    pattern = _derivative_pattern(spec, a, z)
                    if pattern is None:
                        continue

                    def edit(t, r, pattern=pattern, a=a, z=z, a2=a2, z2=z2):
                        m = pattern.search(t)
                        if not m:
                            return None
                        piece = m.group(0).replace(a, a2) if spec.activation != "relu" else m.group(0)
                        piece = piece.replace(z, z2) if spec.activation == "relu" else piece
                        return t[: m.start()] + piece + t[m.end() :]

                    options += [(k, sheet.rows, edit) for k in backward]
        return first(options)
    if kind == "wrong weight":
        options = []
        for n, layer in enumerate(spec.layers[1:], start=1):
            weights = [w for row in layer.weights for w in row]
            for w in weights:
                for other in weights:
                    if other == w:
                        continue
                    old, new = sheet.letter[w], sheet.letter[other]
                    hidden = [k for k in backward if _reads_layer_below(spec, k, n)]

                    def edit(t, r, old=old, new=new):
                        return re.sub(rf"(?<![A-Z$]){old}{r}(?!\d)", f"{new}{r}", t, count=1)

                    options += [(k, sheet.rows, edit) for k in hidden]
        return first(options)
    if kind == "preact":
        if not spec.hidden or spec.activation == "linear":
            return None
        options = []
        last_hidden = spec.hidden[-1]
        for unit in last_hidden.units:
            for sfx in suffixes:
                a, z = sheet.letter[f"a_{unit}{sfx}"], sheet.letter[f"{unit}{sfx}"]
                for w in [w for row in spec.output.weights for w in row]:
                    if spec.source_of(w)[0] != f"a_{unit}":
                        continue
                    key = f"dE_d{w}"

                    def edit(t, r, a=a, z=z):
                        return re.sub(rf"(?<![A-Z$]){a}{r}(?!\d)", f"{z}{r}", t, count=1)

                    options.append((key, sheet.rows, edit))
        return first(options)
    if kind == "constant":
        options = []
        if spec.blocks > 1:
            n = spec.blocks
            options += [
                (
                    k,
                    sheet.rows,
                    lambda t, r, n=n: t.replace(f")/{n}", f")/{n + 1}", 1) if t.endswith(f")/{n}") else None,
                )
                for k in backward
                if k.startswith("dE_d")
            ]
        if spec.activation in ("sigmoid", "tanh"):
            options += [
                (k, sheet.rows, lambda t, r: t.replace("(1-", "(2-", 1) if "(1-" in t else None)
                for k in backward
            ]
        if not options:
            losses = [k for k in sheet.keys() if re.fullmatch(r"E\d+(_s\d+)?", k)]
            options += [
                (k, sheet.rows, lambda t, r: t.replace("0.5*", "0.25*", 1) if "0.5*" in t else None)
                for k in losses
            ]
        return first(options)
    raise ValueError(kind)


def _reads_layer_below(spec: NetworkSpec, key: str, n: int) -> bool:
    """A backward quantity of layer n − 1's units (δ_h1, or a gradient of a weight into layer n − 1):
    the ones that read layer n's weights."""
    below = spec.layers[n - 1]
    name = key.removeprefix("dE_d").removeprefix("delta_").split("_s")[0]
    if key.startswith("delta_"):
        return name in below.units
    return name in [w for row in below.weights for w in row] or (
        name in below.biases and name not in spec.layers[n].biases
    )


def plant(source: Path, target: Path, formulas: dict[str, str]) -> None:
    _rewrite(source, target, _sheet_part(source, SHEET), formulas)


def cell_order(cell: str) -> tuple[int, int]:
    from sheetgen.core.xlsx import column_number

    letters = "".join(ch for ch in cell if ch.isalpha())
    return int(cell[len(letters) :]), column_number(letters)


# -- a batch: build, strip, plant, recalculate the truth, verify, judge --------------------------------


@dataclass
class Case:
    """One book to verify: a drawn spec's built book, kept or stripped, right or with a planted mistake."""

    drawn: Drawn
    variant: str  # "built" (its spec recorded) or "stripped"
    kind: str | None  # the planted mistake, None for the right book
    path: Path
    planted: dict[str, str] | None = None  # cell -> planted formula
    key: str | None = None  # the planted column's key
    first: str | None = None  # the first planted cell whose value LibreOffice changes
    right_value: float | None = None  # LibreOffice's value of that cell in the unplanted book
    # LibreOffice's value of each planted cell up to `first` in the unplanted book: a planted formula
    # whose value happens to be right (a gradient of 0 through a dead ReLU) is still the first wrong cell
    right_values: dict[str, float] | None = None


def prepare(specs: list[Drawn], folder: Path, seed: int = 0) -> list[Case]:
    """Every case of the drawn specs, with the truth of each planted one from LibreOffice."""
    from sheetgen.office import recalc

    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    for drawn in specs:
        built = build(drawn, folder)
        stripped = folder / f"{drawn.name}-stripped.xlsx"
        strip_spec(built, stripped)
        cases += [Case(drawn, "built", None, built), Case(drawn, "stripped", None, stripped)]
        for kind in KINDS:
            found = plan(built, drawn.spec, kind, rng)
            if found is None:
                continue
            formulas, key = found
            slug = kind.replace(" ", "-")
            target = folder / f"{drawn.name}-{slug}.xlsx"
            plant(built, target, formulas)
            target_stripped = folder / f"{drawn.name}-{slug}-stripped.xlsx"
            strip_spec(target, target_stripped)
            cases.append(Case(drawn, "built", kind, target, formulas, key))
            cases.append(Case(drawn, "stripped", kind, target_stripped, formulas, key))
    # The truth: LibreOffice's values of the unplanted book and of each planted one.
    right = {c.drawn.name: c.path for c in cases if c.kind is None and c.variant == "built"}
    planted = [c for c in cases if c.kind is not None and c.variant == "built"]
    paths = list(right.values()) + [c.path for c in planted]
    truth_dir = folder / "truth"
    truth_dir.mkdir(exist_ok=True)
    recalculated = recalc.recalculate(paths, truth_dir)
    values = {
        p: openpyxl.load_workbook(r, data_only=True)[SHEET] for p, r in zip(paths, recalculated, strict=True)
    }
    for case in planted:
        good, bad = values[right[case.drawn.name]], values[case.path]
        changed = [
            cell
            for cell in sorted(case.planted, key=cell_order)
            if not np.isclose(_float(bad[cell].value), _float(good[cell].value), rtol=1e-9, atol=1e-12)
        ]
        if changed:
            case.first, case.right_value = changed[0], _float(good[changed[0]].value)
            upto = [
                c for c in sorted(case.planted, key=cell_order) if cell_order(c) <= cell_order(case.first)
            ]
            case.right_values = {c: _float(good[c].value) for c in upto}
    for case in cases:
        if case.kind is not None and case.variant == "stripped":
            twin = next(c for c in planted if c.drawn is case.drawn and c.kind == case.kind)
            case.first, case.right_value, case.right_values = twin.first, twin.right_value, twin.right_values
    return cases


def _float(value) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


def expected_network(spec: NetworkSpec) -> dict:
    """What a reading of the stripped book must say, from the spec alone."""
    single_units = all(s == 1 for s in spec.sizes[1:])
    want = {
        "sizes": list(spec.sizes),
        "activation": spec.activation if spec.hidden else None,
        "output_activation": spec.output_activation,
        "biases": spec.biases,
        "loss": spec.loss,
        "samples": spec.n_samples,
        "batch": ("full" if spec.blocks > 1 else "online" if spec.n_samples > 1 else None),
    }
    if spec.biases != "none" and not single_units:
        want["bias_per"] = spec.bias_per
    if spec.blocks > 1:
        want["gradient"] = "mean"
    return want


def judge(case: Case, result) -> str | None:
    """What is wrong with a verdict (None: it is right)."""
    from sheetgen.verify.report import verdicts as report

    line = report.one_line(result)
    if case.kind is None:
        if result.verdict != report.VERIFIED:
            return f"{result.verdict} where VERIFIED belongs: {line}"
        if case.variant == "stripped":
            read = result.network or {}
            want = expected_network(case.drawn.spec)
            wrong = {k: (read.get(k), v) for k, v in want.items() if read.get(k) != v}
            if wrong:
                return f"network read {wrong} (read, spec): {read.get('text')}"
        return None
    if case.first is None:
        return None  # the planted formula gives the same values here (a dead ReLU unit): nothing to find
    if result.verdict != report.WRONG:
        return f"{result.verdict} where WRONG at {case.first} belongs: {line}"
    finding = result.first_wrong
    if finding.sheet != SHEET or finding.address not in case.right_values:
        return f"first wrong cell {finding.sheet}!{finding.address}, not {case.first}: {line}"
    if not finding.diagnosis:
        return f"no diagnosis: {line}"
    right = case.right_values[finding.address]
    if not np.isclose(_float(finding.expected), right, rtol=1e-6, atol=1e-9):
        return f"expected {finding.expected} but LibreOffice's right value is {right}: {line}"
    return None


def run(cases: list[Case], tol: float = 1e-9) -> list[tuple[Case, str, object]]:
    """Verify every case in one verify_books call: (case, what is wrong or None, its result)."""
    from sheetgen.verify import command as verify

    results = verify.verify_books([c.path for c in cases], "libreoffice", tol)
    return [(c, judge(c, r), r) for c, r in zip(cases, results, strict=True)]


def main_cli(argv: list[str]) -> int:
    """python tests/spec_sampler.py N SEED FOLDER: draw N specs, verify every case, print each verdict."""
    import sys
    import time

    n, seed, folder = int(argv[0]), int(argv[1]), Path(argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    specs = [draw(rng, f"s{seed}-{k}") for k in range(n)]
    start = time.time()
    cases = prepare(specs, folder, seed)
    outcomes = run(cases)
    bad = 0
    for case, problem, result in outcomes:
        tag = "FAIL" if problem else "ok  "
        bad += bool(problem)
        what = case.kind or "right"
        print(f"{tag} {case.drawn.name} {case.variant:8} {what:12} {' '.join(case.drawn.flags)}", flush=True)
        if problem:
            print(f"       {problem}")
        elif case.kind and case.first:
            print(f"       {result.first_wrong.diagnosis}")
    print(f"{len(cases)} cases of {n} specs, {bad} failing, {time.time() - start:.0f} s", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main_cli(sys.argv[1:]))
