"""The `sheetgen` command: build, verify and render backpropagation workbooks.

    sheetgen build  [--template NAME|PATH] [--set KEY=VALUE ...] [--iterations N] [--lr-list ...] [-o PATH]
    sheetgen verify BOOK.xlsx|DIR ... [--engine libreoffice|cached] [--tol REL] [--json] [--report CSV]
    sheetgen render BOOK.xlsx -o DIR

Each subcommand lives in its own module with add_arguments(parser) and run(args) -> exit status.
"""

from __future__ import annotations

import argparse
import sys

from sheetgen import build, render, verify
from sheetgen.errors import EXIT_USAGE, UserError

SUBCOMMANDS = {"build": build, "verify": verify, "render": render}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the description's line breaks; show a default where there is one the help does not already give."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, [], False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, what to do) and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sheetgen", description=__doc__.split("\n\n")[0],
                     formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{build,verify,render}",
                                parser_class=_Parser)
    for name, module in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=module.__doc__.strip().splitlines()[0], description=module.__doc__,
                            formatter_class=_HelpFormatter)
        module.add_arguments(sp)
        sp.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as error:
        print(f"sheetgen {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"sheetgen {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
