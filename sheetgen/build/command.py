"""Build the live-formula backpropagation workbook (one sheet per learning rate).

Reads a template (i1, i2, t1, t2, w1..w8, or a whole network spec), applies the network flags and
--set overrides, trains the network with the numpy oracle for each learning rate and writes a
workbook whose every computed cell is a formula carrying the oracle's value. All input is checked
before anything is written, and the book is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import traceback
import zipfile
from pathlib import Path

from sheetgen.build import params as P
from sheetgen.core import spec as S
from sheetgen.core.errors import UserError, check_output_path, scratch
from sheetgen.core.layout import eta_label
from sheetgen.core.xlsx import MAX_CELLS

DEFAULT_OUTPUT = Path("output") / "BackProp.xlsx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--template",
        default=P.DEFAULT_TEMPLATE,
        metavar="NAME|PATH",
        help="inputs, targets, initial weights (and biases), or a whole network spec: a name from templates/ "
        "(era-v1, eva8, mazur, xor) or the path of a .toml file",
    )
    parser.add_argument(
        "--biases",
        choices=S.BIAS_MODES,
        default=None,
        help="none: no biases (the course's network); fixed: a bias added into each unit's net input "
        "(see --bias-per), held at its initial value (Mazur's post: b1 into the hidden sums, b2 into the "
        "outputs); trained: updated by their own gradients like the weights (default: the template's; "
        "mazur is fixed, xor trained, the others none)",
    )
    parser.add_argument(
        "--network",
        default=None,
        metavar="SIZES",
        help=f"layer sizes: inputs, 0 to {S.MAX_HIDDEN_LAYERS} hidden layers, outputs, e.g. 2-2-2 "
        "(the course's), "
        f"2-1 (a single neuron), 2-3-1, 2-3-3-2; at most {S.MAX_UNITS} units a layer and "
        f"{S.MAX_WEIGHTS} weights "
        "(default: the template's, else 2-2-2; with --samples the inputs and outputs follow the samples)",
    )
    parser.add_argument(
        "--activation",
        choices=S.HIDDEN_ACTIVATIONS,
        default=None,
        help="the hidden units' activation (default sigmoid)",
    )
    parser.add_argument(
        "--output-activation",
        choices=S.OUTPUT_ACTIVATIONS,
        default=None,
        help="the outputs' activation (default sigmoid); softmax needs --loss cross-entropy and 2 or "
        "more outputs",
    )
    parser.add_argument(
        "--loss",
        choices=S.LOSSES,
        default=None,
        help="half-squared: ½Σ(t−a)² (the course's, the default); squared: Σ(t−a)²; cross-entropy: −Σt·ln a "
        "with softmax outputs, −Σ[t·ln a + (1−t)·ln(1−a)] with sigmoid outputs",
    )
    parser.add_argument(
        "--bias-per",
        choices=S.BIAS_PER,
        default=None,
        help="layer: one bias per layer, b1, b2, ... (Mazur's, the default); unit: one per unit, "
        "b_h1, b_h2, ..., b_o1, ...",
    )
    parser.add_argument(
        "--samples",
        default=None,
        metavar="xor|and|or|FILE.csv",
        help=f"several training samples (at most {S.MAX_SAMPLES}): a logic gate's four, or a CSV "
        "with a header "
        "i1,…,t1,… and one row of numbers per sample (default: one sample, i1.. t1.. on the Inputs sheet)",
    )
    parser.add_argument(
        "--batch",
        choices=S.BATCHES,
        default=None,
        help="full: each update uses the mean gradient over all samples, E_total their mean loss (a block of "
        "columns per sample in each row); online: one sample per row, in order, cycling, E_total that row's "
        "loss. With one sample both are the same",
    )
    parser.add_argument(
        "--init-seed",
        default=None,
        metavar="N",
        help="draw the initial weights uniformly from ±1/√(fan-in) with numpy's default_rng(N), rounded to 4 "
        "decimals (they are drawn with seed 0 anyway when the template has none for this network)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one value of the spec (i1, t2, w5, b1, b_h1, ...) or one setting (network, "
        "activation, "
        "output_activation, loss, biases, bias_per, samples, batch, init_seed); repeatable",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=P.DEFAULT_ITERATIONS,
        metavar="N",
        help=f"weight updates per learning rate (rows 0..N; at most {P.MAX_ITERATIONS}, "
        f"and at most {P.MAX_TOTAL_ROWS} rows over all sheets, so that the book stays within the "
        f"{MAX_CELLS:,} cells sheetgen verify reads)",
    )
    parser.add_argument(
        "--lr-list",
        default=P.DEFAULT_LR_LIST,
        metavar="ETA,ETA,...",
        help=f"comma-separated learning rates, one sheet each (at most {P.MAX_LEARNING_RATES})",
    )
    parser.add_argument(
        "--exercise",
        action="store_true",
        help="the student's copy: the δ, gradient and update columns left empty under their headers, a first "
        "sheet saying what to fill in; a filled-in copy is checked by sheetgen verify like any book",
    )
    parser.add_argument(
        "--blank",
        default=None,
        metavar="COLS",
        help="with --exercise (implied): the columns to leave empty instead, comma-separated keys or labels "
        "(dE_dw5, w5, a_h1, E_total) or groups (gradients, updates, deltas, forward, losses)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="PATH",
        help=f"the workbook to write (default: {DEFAULT_OUTPUT}; output/ is created if missing)",
    )


@contextlib.contextmanager
def _private_temporary_files():
    """xlsxwriter's temporary files (25-150 MB for a large book) go to a folder of ours, removed when
    the build ends in any way (done, error, Ctrl-C, SIGTERM), not to $TMPDIR where an interrupted
    build would leave them."""
    with scratch("build") as folder:
        saved, tempfile.tempdir = tempfile.tempdir, str(folder)
        try:
            yield
        finally:
            tempfile.tempdir = saved


def _close_abandoned_zips(error: BaseException) -> None:
    """Close, quietly, the zip files a failed write left open in the frames of its traceback.

    xlsxwriter's ZipFile is a local of the frame that failed (a full disk): left to the garbage
    collector, its __del__ would try to write the zip's directory to the full disk again and print
    "Exception ignored in ZipFile.__del__" with a traceback after our one line.
    """
    chain, seen = [error], set()
    while chain:  # the error, what it wraps (FileCreateError(OSError)), and what it was raised during
        current = chain.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        chain += [current.__context__, current.__cause__]
        chain += [arg for arg in current.args if isinstance(arg, BaseException)]
        for frame, _ in traceback.walk_tb(current.__traceback__):
            for value in list(frame.f_locals.values()):
                if isinstance(value, zipfile.ZipFile):
                    with contextlib.suppress(Exception):  # its close fails as the write did; fp is let go
                        value.close()


def run(args: argparse.Namespace) -> int:
    # Import here so that `sheetgen verify --help` does not pay for xlsxwriter.
    from xlsxwriter.exceptions import FileCreateError

    from sheetgen.build.exercise import DEFAULT_BLANK, blanks
    from sheetgen.build.spec_args import resolve
    from sheetgen.build.writer import write_workbook
    from sheetgen.core.columns import spec_columns
    from sheetgen.core.errors import atomic_output

    template = P.read_template(args.template)
    template_name = template.name
    spec, params, drawn = resolve(args, template)
    biases = spec.biases
    lrs = P.parse_lr_list(args.lr_list)
    iterations = P.check_iterations(args.iterations, len(lrs))
    blank = None
    if args.exercise or args.blank is not None:
        blank = blanks(spec, spec_columns(spec), args.blank if args.blank is not None else DEFAULT_BLANK)
    cells = len(spec_columns(spec)) * len(lrs) * (iterations + 1)
    if cells > MAX_CELLS:
        raise UserError(
            f"{len(lrs)} learning rates x {iterations + 1} rows x {len(spec_columns(spec))} columns is "
            f"{cells:,} cells, above the {MAX_CELLS:,} sheetgen verify reads: give fewer iterations, "
            "learning "
            "rates, samples or units"
        )
    if args.overrides:
        template_name += " with " + ", ".join(o.replace(" ", "") for o in args.overrides)

    if args.output is None:
        output = DEFAULT_OUTPUT
        output.parent.mkdir(parents=True, exist_ok=True)
    else:
        output = Path(args.output)
    output = check_output_path(output, suffix=".xlsx")

    try:
        with _private_temporary_files(), atomic_output(output) as tmp:
            write_workbook(
                tmp, params, lrs, iterations, template_name=template_name, spec=spec, drawn=drawn, blank=blank
            )
    except (OSError, FileCreateError) as error:
        # The checks above cannot foresee everything (a full disk, a read-only mount, /proc).
        _close_abandoned_zips(error)
        cause = error.args[0] if isinstance(error, FileCreateError) and error.args else error
        reason = getattr(cause, "strerror", None) or cause
        raise UserError(f"cannot write '{output}': {reason}: choose another -o path") from None
    rates = ", ".join(eta_label(eta) for eta in lrs)
    print(
        f"wrote {output}: {len(lrs)} learning rate{'s' if len(lrs) > 1 else ''} ({rates}) "
        f"x {iterations} iteration{'' if iterations == 1 else 's'}, template {template_name}"
        + ("" if biases == "none" else f", biases {biases}")
        + ("" if spec == S.NetworkSpec(biases=biases) else f"; network {spec.describe()}")
        + ("" if blank is None else "; the student's copy (see its Exercise sheet)")
    )
    return 0
