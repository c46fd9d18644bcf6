"""The build's inputs: a template (i1, i2, t1, t2, w1..w8, biases), `--set` overrides, learning rates,
iterations.

Everything is validated here, before any file is touched, and every mistake is a
UserError whose one-line message says what was wrong and what to do.
"""

from __future__ import annotations

import math
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sheetgen.core.errors import UserError
from sheetgen.core.layout import eta_label, lr_sheet_name
from sheetgen.core.oracle import BIAS_MODES, BIASES, INPUTS, WEIGHTS
from sheetgen.core.xlsx import MAX_TABLE_ROWS

# The parameter block of the workbook, in the order it is written (b1, b2 after them, when the
# network has biases).
PARAM_KEYS: tuple[str, ...] = INPUTS + WEIGHTS
DEFAULT_TEMPLATE = "era-v1"
DEFAULT_LR_LIST = "0.1,0.2,0.5,0.8,1,2"
DEFAULT_ITERATIONS = 100

# Ceilings. The total bounds the whole workbook by the one size limit sheetgen verify also reads
# (core.xlsx.MAX_CELLS): every book build writes can be verified (6 x 10,000 iterations is 60,006 rows).
MAX_TOTAL_ROWS = MAX_TABLE_ROWS
MAX_ITERATIONS = MAX_TOTAL_ROWS - 1
MAX_LEARNING_RATES = 20
MIN_LEARNING_RATE = 1e-300  # smaller ones change no weight, and near the subnormals the engines disagree


def template_dir() -> Path:
    """Named templates: sheetgen/templates/ when installed (package data), else the repo's templates/."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


def available_templates() -> dict[str, Path]:
    return {path.stem: path for path in sorted(template_dir().glob("*.toml"))}


def _parse_float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{what} '{text}' is not a number: give a decimal such as 0.5") from None
    if not math.isfinite(value):
        raise UserError(f"{what} '{text}' is not a finite number: give a decimal such as 0.5")
    if value != 0 and abs(value) < sys.float_info.min:
        # A subnormal keeps fewer digits than it shows: the file's text and the engines' values disagree.
        raise UserError(
            f"{what} '{text}' is closer to 0 than {sys.float_info.min:.4g}, where numbers lose digits: "
            + ("give a larger number, e.g. 0.5" if what == "learning rate" else "give 0 or a larger number")
        )
    return value


@dataclass(frozen=True)
class Template:
    name: str
    params: dict[str, float]  # i1, i2, t1, t2, w1..w8, and b1, b2 when the template has biases
    biases: str  # the template's bias mode: "none", "fixed" or "trained"


def read_template(name_or_path: str) -> Template:
    """Read a template by name (templates/NAME.toml) or by path."""
    templates = available_templates()
    if name_or_path in templates:
        path = templates[name_or_path]
    else:
        path = Path(name_or_path)
        if path.suffix.lower() != ".toml" or not path.is_file():
            names = ", ".join(sorted(templates)) or "none found"
            raise UserError(
                f"unknown template '{name_or_path}': use one of {names}, or the path of a .toml file"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read template '{path}': {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"template '{path}' is not valid TOML: {error}") from None
    except ValueError as error:  # Python refuses integers of more than 4,300 digits
        raise UserError(
            f"template '{path}' holds a number no float can hold ({error.args[0].split(':')[0]})"
            ": give values like 0.15"
        ) from None

    missing = [key for key in PARAM_KEYS if key not in data]
    if missing:
        raise UserError(
            f"template '{path}' lacks {', '.join(missing)}: it must set i1, i2, t1, t2 and w1..w8"
        )
    unknown = sorted(set(data) - set(PARAM_KEYS) - set(BIASES) - {"name", "description", "biases"})
    if unknown:
        raise UserError(
            f"template '{path}' has unknown keys {', '.join(unknown)}: "
            f"allowed are name, description, i1, i2, t1, t2, w1..w8, b1, b2, biases"
        )
    sets_bias = [b for b in BIASES if b in data]
    biases = data.get("biases", "fixed" if sets_bias else "none")
    if biases not in BIAS_MODES:
        raise UserError(f"template '{path}': biases = {biases!r}: use one of {', '.join(BIAS_MODES)}")
    if biases == "none" and sets_bias:
        raise UserError(
            f"template '{path}' sets {', '.join(sets_bias)} but biases = 'none': "
            f"remove them or set biases = 'fixed' or 'trained'"
        )
    params: dict[str, float] = {}
    for key in PARAM_KEYS + (BIASES if biases != "none" else ()):
        value = data.get(key, 0.0)  # a template with biases = "trained" may start them at 0
        try:  # an integer too large for a float (400 digits) overflows here, like an infinity
            number = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None or not isinstance(value, int | float) or not math.isfinite(number):
            shown = repr(value)
            if len(shown) > 40:  # a 400-digit integer: its head and length say enough
                shown = f"{shown[:30]}… ({len(shown)} characters)"
            raise UserError(
                f"template '{path}': {key} = {shown} is not a finite number: give a value like 0.15"
            )
        params[key] = number
    return Template(str(data.get("name", path.stem)), params, biases)


def load_template(name_or_path: str) -> tuple[str, dict[str, float]]:
    """A template's name and its inputs (i1, i2, t1, t2, w1..w8, and b1, b2 if it has biases)."""
    template = read_template(name_or_path)
    return template.name, template.params


def apply_overrides(params: dict[str, float], assignments: list[str] | None) -> dict[str, float]:
    """Apply `--set KEY=VALUE` overrides (KEY one of i1, i2, t1, t2, w1..w8, b1, b2) to a copy of params."""
    result = dict(params)
    for assignment in assignments or []:
        key, sep, text = assignment.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise UserError(f"--set '{assignment}' is malformed: write KEY=VALUE, e.g. --set w1=0.15")
        if key not in PARAM_KEYS + BIASES:
            raise UserError(
                f"--set: unknown input '{key}': use one of {', '.join(PARAM_KEYS + BIASES)} "
                f"(learning rates go in --lr-list)"
            )
        result[key] = _parse_float(text, f"--set {key}")
    return result


def resolve_biases(requested: str | None, template: Template, assignments: list[str] | None) -> str:
    """The build's bias mode: --biases if given, else the template's; a bias set with none is refused."""
    biases = requested or template.biases
    set_biases = [b for b in BIASES for a in assignments or [] if a.partition("=")[0].strip() == b]
    if biases == "none" and set_biases:
        raise UserError(
            f"--set {set_biases[0]} needs a network with biases: add --biases fixed or --biases trained"
        )
    return biases


def parse_lr_list(text: str) -> list[float]:
    """`--lr-list 0.1,0.2,...`: positive, finite, distinct learning rates, at most MAX_LEARNING_RATES."""
    if not text.strip():
        raise UserError("--lr-list is empty: give comma-separated learning rates, e.g. --lr-list 0.1,0.5,1")
    lrs: list[float] = []
    seen: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise UserError(f"--lr-list '{text}' has an empty entry: remove the extra comma")
        eta = _parse_float(item, "learning rate")
        if eta <= 0:
            raise UserError(f"learning rate '{item}' must be greater than 0")
        if eta < MIN_LEARNING_RATE:
            raise UserError(
                f"learning rate '{item}' is below {MIN_LEARNING_RATE:g}: it would change no weight; "
                "give a larger one"
            )
        label = eta_label(eta)
        if label in seen:
            same = float(seen[label]) == eta
            what = "is given twice" if same else f"and '{seen[label]}' both print as {label}"
            raise UserError(
                f"learning rate '{item}' {what}: each rate gets its own sheet '{lr_sheet_name(eta)}', "
                f"so give distinct rates"
            )
        seen[label] = item
        lrs.append(eta)
    if len(lrs) > MAX_LEARNING_RATES:
        raise UserError(f"{len(lrs)} learning rates is too many: give at most {MAX_LEARNING_RATES}")
    return lrs


def check_iterations(iterations: int, n_lrs: int) -> int:
    if iterations <= 0:
        raise UserError(f"--iterations {iterations} must be at least 1 (the number of weight updates)")
    if iterations > MAX_ITERATIONS:
        raise UserError(f"--iterations {iterations} is above the ceiling of {MAX_ITERATIONS}: give fewer")
    if n_lrs * (iterations + 1) > MAX_TOTAL_ROWS:
        raise UserError(
            f"{n_lrs} learning rates x {iterations + 1} rows is above the ceiling of "
            f"{MAX_TOTAL_ROWS} rows in one workbook: give fewer iterations or learning rates"
        )
    return iterations
