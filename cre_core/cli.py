"""cre: build a workspace, embed the DNA around each gene, train models, predict fitness.

Typical session (each command has its own --help):

  cre demo --workspace ws --preset small        a seeded demo workspace in the real file formats
  cre ingest --workspace ws --gff genome.gff --sga SGA_ExE.txt ...   or your own files
  cre info --workspace ws                       what the workspace holds
  cre embed --workspace ws --embedder kmer      gene embeddings of the CRE windows
  cre train --workspace ws --model deepset      train one model (prints the run folder)
  cre predict --workspace ws --run RUN --genes TFC3,YBR001C

Progress goes to stderr; each command's result is its last line on stdout (JSON).
Bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import typing
from pathlib import Path

from cre_core import __version__
from cre_core.errors import CreError

COMMAND_MODULES = (
    "cre_core.demo.commands",
    "cre_core.data.commands",
    "cre_core.data.fetch",
    "cre_core.overview",
    "cre_core.genome.commands",
    "cre_core.embed.commands",
    "cre_core.train.commands",
    "cre_core.query.commands",
    "cre_core.interpret.commands",
    "cre_core.explore.commands",
)


class OneLineParser(argparse.ArgumentParser):
    """Bad options are one line on stderr (exit 2) that points to --help, not a usage dump."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered subcommand (``register(subparsers)`` in each
    command module; each parser sets ``func(args) -> int``)."""
    prog = "cre" if Path(sys.argv[0]).name == "cre" else "python -m cre_core"
    parser = OneLineParser(prog=prog, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


class _Stderr(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is when a record arrives (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self) -> typing.TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: typing.TextIO) -> None:
        pass


def show_progress() -> None:
    """Send the package's log records (progress, notes) to stderr, once per process."""
    logger = logging.getLogger("cre_core")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; returns the process exit code (2 for a user error)."""
    args = build_parser().parse_args(argv)
    show_progress()
    try:
        return int(args.func(args) or 0)
    except CreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        import duckdb

        from cre_core.workspace import store_error

        if not isinstance(exc, (duckdb.IOException, duckdb.CatalogException)):
            raise
        print(f"error: {store_error(exc)}", file=sys.stderr)     # a corrupt or half-made store
        return 2
