"""Command line entry: each subpackage registers its own subcommands.

A command module exposes ``register(subparsers)``; each parser sets ``func(args) -> int``.
User errors (CreError) print one line to stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import typing

from cre_core.errors import CreError

COMMAND_MODULES = (
    "cre_core.data.commands",
    "cre_core.overview",
    "cre_core.genome.commands",
    "cre_core.embed.commands",
    "cre_core.train.commands",
    "cre_core.query.commands",
    "cre_core.interpret.commands",
)


class OneLineParser(argparse.ArgumentParser):
    """Bad options are one line on stderr (exit 2) that points to --help, not a usage dump."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered subcommand."""
    parser = OneLineParser(prog="python -m cre_core", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
