"""FASTA reading: a separate ``.fsa``/``.fasta`` file or the section after a GFF's ``##FASTA``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cre_core.errors import InputError
from cre_core.genome.names import fasta_header_chrom
from cre_core.textio import iter_lines


def _is_letter(text: str) -> bool:
    return text.isascii() and text.isalpha()


def parse_fasta(path: str | Path, lines: Iterable[tuple[int, str]]) -> dict[str, str]:
    """Sequences by chromosome name from numbered lines (see ``textio.iter_lines``).

    Sequences keep their case (soft-masking) and letters. Blank lines and ``;`` comments are
    skipped. Raises InputError for a sequence line before any header, a character that is not
    a letter, or a chromosome named twice.
    """
    sequences: dict[str, str] = {}
    name: str | None = None
    chunks: list[str] = []
    for number, text in lines:
        if text.startswith(">"):
            if name is not None:
                sequences[name] = "".join(chunks)
            name, chunks = fasta_header_chrom(text[1:]), []
            if not name:
                raise InputError(path, number, "FASTA header without a name")
            if name in sequences:
                raise InputError(path, number, f"sequence {name} appears twice")
            continue
        seq = text.strip()
        if not seq or seq.startswith(";"):
            continue
        if name is None:
            raise InputError(path, number, "sequence line before the first '>' header")
        if not _is_letter(seq):
            offset = len(text) - len(text.lstrip())
            column, bad = next((i, c) for i, c in enumerate(seq, offset + 1) if not _is_letter(c))
            problem = f"character {bad!r} (column {column}) is not a base letter"
            raise InputError(path, number, problem)
        chunks.append(seq)
    if name is not None:
        sequences[name] = "".join(chunks)
    return sequences


def read_fasta(path: str | Path) -> dict[str, str]:
    """All sequences of a FASTA file (gzip, BOM and CRLF are fine); raises if it has none."""
    sequences = parse_fasta(path, iter_lines(path))
    if not sequences:
        raise InputError(path, None, "no FASTA records (no line starting with '>')")
    return sequences
