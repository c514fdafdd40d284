"""`python -m cnnlens inspect | check | predict | activations | attribute | maximize |
dissect | convert-tfjs`: the engine from the command line.

The CLI runs exactly what the page runs (`onnx_reader` → `preprocess` → `forward`), so its
numbers are the page's numbers. Our documented errors (`CnnlensError`, unreadable files)
print `cnnlens: error: ...` on stderr and exit with status 2, never a traceback; `check`
exits with 1 for a model it can read but the page cannot run. The commands themselves are
in `cnnlens.commands`, one module per family; this module parses and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from .commands import convert, dissect, explain, inspect, run
from .commands.common import EXIT_ERROR, EXIT_OK, PROG, CliError, report
from .errors import CnnlensError


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors in subcommands also say `cnnlens: error:`."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{PROG}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    root = _Parser(
        prog=PROG, description="Inspect and run CNNs stored as ONNX, as the cnnlens page does.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in (inspect, run, explain, dissect, convert):  # the order `--help` lists them in
        family.add_parsers(commands)
    return root


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs one command; returns the exit status (0 ok, 2 usage or input error)."""
    args: Any = parser().parse_args(argv)  # exits with status 2 on a usage error
    try:
        return args.handler(args, out or sys.stdout)
    except (CnnlensError, CliError) as exc:
        report(exc)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `cnnlens predict ... | head -1`: the reader has gone
        # Point stdout at /dev/null so the interpreter's final flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
