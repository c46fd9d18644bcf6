"""The build's inputs: a template (i1, i2, t1, t2, w1..w8, biases; or a whole network spec), `--set`
overrides, learning rates, iterations.

Everything is validated here, before any file is touched, and every mistake is a
UserError whose one-line message says what was wrong and what to do.
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from dataclasses import dataclass, field
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


# A template's network settings: the spec's fields (and how to draw weights) by their TOML names.
SPEC_KEYS = (
    "network",
    "activation",
    "output_activation",
    "loss",
    "biases",
    "bias_per",
    "samples",
    "batch",
    "init_seed",
)
_VALUE_NAME = re.compile(r"^(?:[itw][1-9]\d*|b[1-9]\d*|b_[hgo][1-9]\d*)$")


@dataclass(frozen=True)
class Template:
    name: str
    params: dict[str, float]  # i1, i2, t1, t2, w1..w8, and b1, b2 when the template has biases
    biases: str  # the template's bias mode: "none", "fixed" or "trained"
    settings: dict = field(default_factory=dict)  # network, activation, ..., samples (spec templates)


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

    if "network" in data:  # a whole network spec: its values are checked against the spec it makes
        return _spec_template(path, data)
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


def _spec_template(path: Path, data: dict) -> Template:
    unknown = sorted(
        k for k in data if k not in SPEC_KEYS + ("name", "description") and not _VALUE_NAME.match(k)
    )
    if unknown:
        raise UserError(
            f"template '{path}' has unknown keys {', '.join(unknown)}: allowed are name, description, "
            f"{', '.join(SPEC_KEYS)} and values such as i1, t1, w1, b1, b_h1"
        )
    params: dict[str, float] = {}
    for key in (k for k in data if _VALUE_NAME.match(k)):
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise UserError(f"template '{path}': {key} = {value!r} is not a finite number")
        params[key] = float(value)
    settings = {k: data[k] for k in SPEC_KEYS if k in data}
    for key, value in settings.items():
        wanted = int if key == "init_seed" else (list, str) if key == "samples" else str
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise UserError(
                f"template '{path}': {key} = {value!r} has the wrong type (see templates/xor.toml)"
            )
    biases = settings.get("biases", "none")
    if biases not in BIAS_MODES:
        raise UserError(f"template '{path}': biases = {biases!r}: use one of {', '.join(BIAS_MODES)}")
    return Template(str(data.get("name", path.stem)), params, biases, settings)


def load_template(name_or_path: str) -> tuple[str, dict[str, float]]:
    """A template's name and its inputs (i1, i2, t1, t2, w1..w8, and b1, b2 if it has biases)."""
    template = read_template(name_or_path)
    return template.name, template.params


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
