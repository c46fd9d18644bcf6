"""From a template and the command line to a network spec and its initial values.

The spec's settings come from the template (a course template is the 2-2-2 network; a spec
template such as templates/xor.toml names them all), each overridden by its flag (--network,
--activation, ...) or by `--set NAME=VALUE` with the setting's name (`--set activation=tanh`).
Samples are a built-in set (xor, and, or) or a CSV file with a header i1,…,t1,…; without an
explicit --network the input and output layers follow the samples.

Initial values: the template's, when its network has the spec's layer sizes (and no --init-seed
asks to draw); otherwise the weights are drawn uniformly from ±1/√(fan-in) of each unit with
numpy's default_rng(seed), rounded to 4 decimals, and the Inputs sheet says so. Biases a
template does not set start at 0; inputs and targets it does not set are drawn too (inputs
uniform in [0, 1], targets in [0.01, 0.99], or one-hot on t1 for softmax outputs). `--set NAME=VALUE`
then overrides any value the spec has (i1, t2, w5, b_h1, ...).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from sheetgen.build.params import SPEC_KEYS, Template, _parse_float
from sheetgen.core.errors import UserError
from sheetgen.core.spec import MAX_SAMPLES, NetworkSpec, SpecError, parse_sizes

SAMPLE_SETS = {  # the logic gates on two inputs, one target
    "xor": (((0, 0), (0,)), ((0, 1), (1,)), ((1, 0), (1,)), ((1, 1), (0,))),
    "and": (((0, 0), (0,)), ((0, 1), (0,)), ((1, 0), (0,)), ((1, 1), (1,))),
    "or": (((0, 0), (0,)), ((0, 1), (1,)), ((1, 0), (1,)), ((1, 1), (1,))),
}
DEFAULT_SEED = 0
# --set NAME=VALUE with one of these names sets the spec, as the flag of the same name would: the
# same settings a template may hold.
SETTINGS = SPEC_KEYS


def read_csv_samples(path: Path):
    """A CSV of samples: a header i1,…,iN,t1,…,tM (any order), then one row of numbers per sample."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"cannot read samples '{path}': {error}") from None
    if len(rows) < 2:
        raise UserError(f"samples '{path}' needs a header row i1,…,t1,… and at least one row of numbers")
    header = [cell.strip() for cell in rows[0]]
    inputs = sorted((h for h in header if h[:1] == "i"), key=lambda h: (len(h), h))
    targets = sorted((h for h in header if h[:1] == "t"), key=lambda h: (len(h), h))
    wanted_i = [f"i{k}" for k in range(1, len(inputs) + 1)]
    wanted_t = [f"t{k}" for k in range(1, len(targets) + 1)]
    if (
        inputs != wanted_i
        or targets != wanted_t
        or not inputs
        or not targets
        or len(set(header)) != len(header)
        or len(inputs) + len(targets) != len(header)
    ):
        raise UserError(
            f"samples '{path}': the header {','.join(header)} must name each input and target once, "
            "i1,…,iN,t1,…,tM and nothing else"
        )
    if len(rows) - 1 > MAX_SAMPLES:
        raise UserError(f"samples '{path}' has {len(rows) - 1} samples: give at most {MAX_SAMPLES}")
    samples = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"samples '{path}' line {line} has {len(row)} cells, the header {len(header)}")
        values = {}
        for name, cell in zip(header, row, strict=True):
            try:
                value = float(cell)
            except ValueError:
                raise UserError(
                    f"samples '{path}' line {line}: {name} = '{cell.strip()}' is not a number"
                ) from None
            if not math.isfinite(value):
                raise UserError(
                    f"samples '{path}' line {line}: {name} = '{cell.strip()}' is not a finite number"
                )
            values[name] = value
        samples.append((tuple(values[i] for i in inputs), tuple(values[t] for t in targets)))
    return tuple(samples)


def read_samples(text, where: str = "--samples"):
    """--samples xor|and|or|FILE.csv, or a template's samples (a name, or a list of tables)."""
    if isinstance(text, list):  # a template's [{i1 = 0, i2 = 1, t1 = 1}, ...]
        try:
            rows = [{str(k): float(v) for k, v in row.items()} for row in text]
            n_in = sum(k[0] == "i" for k in rows[0])
            n_t = sum(k[0] == "t" for k in rows[0])
            return tuple(
                (tuple(r[f"i{k}"] for k in range(1, n_in + 1)), tuple(r[f"t{k}"] for k in range(1, n_t + 1)))
                for r in rows
            )
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            raise UserError(
                f"{where}: samples must be tables of numbers named i1,…,t1,…, e.g. {{i1 = 0, t1 = 1}}"
            ) from None
    if text in SAMPLE_SETS:
        return SAMPLE_SETS[text]
    path = Path(text)
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise UserError(
            f"{where} '{text}': use xor, and, or, or the path of a .csv file with a header i1,…,t1,…"
        )
    return read_csv_samples(path)


def _split_overrides(assignments: list[str]) -> tuple[dict[str, str], list[str]]:
    """--set assignments that name a setting of the spec, and the rest (values)."""
    settings, values = {}, []
    for assignment in assignments or []:
        key, sep, text = assignment.partition("=")
        if sep and key.strip().replace("-", "_") in SETTINGS:
            settings[key.strip().replace("-", "_")] = text.strip()
        else:
            values.append(assignment)
    return settings, values


def _draw(spec: NetworkSpec, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    values = {}
    for layer in spec.layers:
        bound = 1 / math.sqrt(len(layer.sources))
        for row in layer.weights:
            for w in row:
                values[w] = round(float(rng.uniform(-bound, bound)), 4)
    for i in spec.inputs:
        values[i] = round(float(rng.uniform(0, 1)), 2)
    if spec.output_activation == "softmax":
        values |= {t: float(n == 0) for n, t in enumerate(spec.targets)}
    else:
        values |= {t: round(float(rng.uniform(0.01, 0.99)), 2) for t in spec.targets}
    return values


def _value_overrides(spec: NetworkSpec, params: dict, assignments: list[str]) -> dict[str, float]:
    result = dict(params)
    names = spec.initial_values
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise UserError(f"--set '{assignment}' is malformed: write NAME=VALUE, e.g. --set w1=0.15")
        if key not in names:
            if spec.biases == "none" and (key.startswith("b") and key[1:2].isdigit() or key.startswith("b_")):
                raise UserError(
                    f"--set {key} needs a network with biases: add --biases fixed or --biases trained"
                )
            if spec.samples is not None and (key[:1] in "it" and key[1:].isdigit()):
                raise UserError(
                    f"--set {key}: the samples give the inputs and targets: edit the samples instead"
                )
            listed = list(spec.inputs + spec.targets if spec.samples is None else ())
            listed += [f"w1..w{len(spec.weights)}"] + list(spec.bias_names)
            raise UserError(
                f"--set: unknown input '{key}': use one of {', '.join(listed)}, or a setting "
                f"({', '.join(SETTINGS)}) (learning rates go in --lr-list)"
            )
        result[key] = _parse_float(text, f"--set {key}")
    return result


def resolve(args, template: Template) -> tuple[NetworkSpec, dict[str, float], str | None]:
    """The spec, its initial values, and how the weights were drawn (None: the template's)."""
    set_settings, set_values = _split_overrides(args.overrides)
    settings = dict(template.settings)
    flags = {
        "network": args.network,
        "activation": args.activation,
        "output_activation": args.output_activation,
        "loss": args.loss,
        "biases": args.biases or (template.biases if "biases" not in template.settings else None),
        "bias_per": args.bias_per,
        "samples": args.samples,
        "batch": args.batch,
        "init_seed": args.init_seed,
    }
    settings |= {k: v for k, v in flags.items() if v is not None} | set_settings
    explicit_network = args.network is not None or "network" in set_settings
    try:
        template_sizes = parse_sizes(template.settings.get("network", "2-2-2"))
        sizes = parse_sizes(str(settings.get("network", "2-2-2")))
        samples = read_samples(settings["samples"], "--samples") if "samples" in settings else None
        if samples is not None and not explicit_network:
            sizes = (len(samples[0][0]), *sizes[1:-1], len(samples[0][1]))
        seed_text = settings.get("init_seed")
        seed = None
        if seed_text is not None:
            try:
                seed = int(seed_text)
            except ValueError:
                raise UserError(f"--init-seed '{seed_text}' is not a whole number") from None
            if seed < 0:
                raise UserError(f"--init-seed {seed} must be 0 or more")
        spec = NetworkSpec(
            sizes=sizes,
            activation=settings.get("activation", "sigmoid"),
            output_activation=settings.get("output_activation", "sigmoid"),
            loss=settings.get("loss", "half-squared"),
            biases=settings.get("biases", "none"),
            bias_per=settings.get("bias_per", "layer"),
            samples=samples,
            batch=settings.get("batch", "full"),
        )
    except SpecError as error:
        raise UserError(str(error)) from None
    drew_on_request = args.init_seed is not None or "init_seed" in set_settings
    same_network = spec.sizes == template_sizes and not drew_on_request
    drawn = _draw(spec, DEFAULT_SEED if seed is None else seed)
    params, drawn_any = {}, False
    for name in spec.weights:
        if same_network and name in template.params:
            params[name] = template.params[name]
        else:
            params[name], drawn_any = drawn[name], True
    for name in spec.bias_names:
        params[name] = template.params.get(name, 0.0) if same_network else 0.0
    if spec.samples is None:
        keep_inputs = len(spec.inputs) == template_sizes[0]
        keep_targets = len(spec.targets) == template_sizes[-1]
        for name in spec.inputs + spec.targets:
            keep = keep_inputs if name[0] == "i" else keep_targets
            params[name] = template.params[name] if keep and name in template.params else drawn[name]
    params = _value_overrides(spec, params, set_values)
    note = None
    if drawn_any:
        note = (
            f"Initial weights drawn uniformly from ±1/√(fan-in) of each unit with numpy's default_rng("
            f"{DEFAULT_SEED if seed is None else seed}) (--init-seed), rounded to 4 decimals; biases "
            "start at 0 "
            "unless set. Edit any of them above."
        )
    return spec, params, note
