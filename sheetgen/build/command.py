"""Build the live-formula backpropagation workbook (one sheet per learning rate).

Reads a template (i1, i2, t1, t2, w1..w8), applies --set overrides, trains the network
with the numpy oracle for each learning rate and writes a workbook whose every computed
cell is a formula carrying the oracle's value. All input is checked before anything is
written, and the book is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import traceback
import zipfile
from pathlib import Path

from sheetgen.build import params as P
from sheetgen.core.errors import UserError, check_output_path, scratch
from sheetgen.core.layout import eta_label
from sheetgen.core.oracle import BIAS_MODES
from sheetgen.core.xlsx import MAX_CELLS

DEFAULT_OUTPUT = Path("output") / "BackProp.xlsx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--template",
        default=P.DEFAULT_TEMPLATE,
        metavar="NAME|PATH",
        help="inputs, targets, initial weights (and biases): a name from templates/ "
        "(era-v1, eva8, mazur) or the path of a .toml file",
    )
    parser.add_argument(
        "--biases",
        choices=BIAS_MODES,
        default=None,
        help="none: no biases (the course's network); fixed: b1 into both hidden sums and b2 into both "
        "outputs, held at their initial values (Mazur's post); trained: updated by their own gradients "
        "like the weights (default: the template's; mazur is fixed, the others none)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one input (i1, i2, t1, t2, w1..w8, and b1, b2 with biases); repeatable",
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

    from sheetgen.build.writer import write_workbook
    from sheetgen.core.errors import atomic_output

    template = P.read_template(args.template)
    template_name = template.name
    biases = P.resolve_biases(args.biases, template, args.overrides)
    params = P.apply_overrides(template.params, args.overrides)
    lrs = P.parse_lr_list(args.lr_list)
    iterations = P.check_iterations(args.iterations, len(lrs))
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
            write_workbook(tmp, params, lrs, iterations, template_name=template_name, biases=biases)
    except (OSError, FileCreateError) as error:
        # The checks above cannot foresee everything (a full disk, a read-only mount, /proc).
        _close_abandoned_zips(error)
        cause = error.args[0] if isinstance(error, FileCreateError) and error.args else error
        reason = getattr(cause, "strerror", None) or cause
        raise UserError(f"cannot write '{output}': {reason}: choose another -o path") from None
    rates = ", ".join(eta_label(eta) for eta in lrs)
    print(
        f"wrote {output}: {len(lrs)} learning rate{'s' if len(lrs) > 1 else ''} ({rates}) "
        f"x {iterations} iterations, template {template_name}"
        + ("" if biases == "none" else f", biases {biases}")
    )
    return 0
