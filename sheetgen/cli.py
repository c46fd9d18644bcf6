"""The `sheetgen` command: build, verify and render backpropagation workbooks.

    sheetgen build  [--template NAME|PATH] [--set KEY=VALUE ...] [--iterations N] [--lr-list ...] [-o PATH]
    sheetgen verify BOOK.xlsx|DIR ... [--engine libreoffice|cached] [--tol REL] [--json] [--report CSV]
    sheetgen render BOOK.xlsx -o DIR

Each subcommand lives in its own module with add_arguments(parser) and run(args) -> exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from sheetgen.core.errors import EXIT_USAGE, Terminated, UserError, handle_sigterm
from sheetgen.core.printable import shown

SUBCOMMANDS = {
    "build": "write the live-formula backpropagation workbook",
    "verify": "check workbooks cell by cell against the oracle; name the first wrong cell",
    "render": "draw each sheet of a workbook, charts included, to a PNG through LibreOffice",
}


def _command_module(name: str):
    """The module of one subcommand (add_arguments(parser), run(args)).

    Imported here, and only the one asked for, so that `sheetgen build` does not pay for loading
    the verifier (nor `sheetgen verify` for xlsxwriter).
    """
    if name == "build":
        from sheetgen.build import command
    elif name == "verify":
        from sheetgen.verify import command
    else:
        from sheetgen.office import render as command
    return command


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the description's line breaks; show each default the help text does not already give."""

    def _get_help_string(self, action):
        text = action.help or ""
        no_default = action.default in (None, [], False, argparse.SUPPRESS)
        if "default" in text or no_default or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, what to do) and exit status 2."""

    def error(self, message: str):
        # shown(): an argument may be a file name holding ESC or a newline; it must not act on the terminal
        self.exit(EXIT_USAGE, f"{self.prog}: error: {shown(message)} (see {self.prog} --help)\n")


def make_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    parser = _Parser(prog="sheetgen", description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{build,verify,render}", parser_class=_Parser
    )
    for name, summary in SUBCOMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=summary)
            continue
        module = _command_module(name)
        # A command may generate its description (verify lists the labels it accepts from the column table).
        description = getattr(module, "DESCRIPTION", module.__doc__)
        sp = sub.add_parser(name, help=summary, description=description, formatter_class=_HelpFormatter)
        module.add_arguments(sp)
        sp.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser(argv).parse_args(argv)
    handle_sigterm()
    try:
        return args.run(args)
    except UserError as error:
        print(f"sheetgen {args.command}: error: {shown(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        # Ctrl-C, SIGTERM or a hangup: temporaries are already gone (every write unwinds); the status
        # says which; a command that wrote some of its outputs before it stopped says which (written).
        signum = stop.signum if isinstance(stop, Terminated) else signal.SIGINT
        how = "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
        written = getattr(stop, "written", None) or "no output was written"
        with contextlib.suppress(OSError):  # after a hangup stderr may be gone
            print(f"sheetgen {args.command}: {how}; {written}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        # `sheetgen verify DIR | head`: the reader left; that is not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
