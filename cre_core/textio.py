"""Open text inputs the way users actually have them: gzip, UTF-8 BOM, Windows line ends."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cre_core.errors import InputError


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (the suffix may lie)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a possibly gzip-compressed file for reading bytes."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file not found")
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def decode_line(raw: bytes) -> str:
    """Decode one line as UTF-8, falling back to cp1252 (Excel exports) so a header never fails."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.lstrip("\ufeff").rstrip("\r\n")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with 1-based numbers, BOM and CR/LF stripped."""
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            yield number, decode_line(raw)


def first_line(path: str | Path) -> str:
    """The header line of a text file (empty string for an empty file)."""
    for _, text in iter_lines(path):
        return text
    return ""
