"""Open text inputs the way users actually have them: gzip, UTF-8 BOM, Windows or old-Mac line ends.

A file that cannot be read as text (a folder, a truncated gzip) is an InputError naming the file
and, where known, the line, never a traceback.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from cre_core.errors import InputError


def check_readable(path: str | Path) -> Path:
    """The path, when it names a readable regular file; InputError (not found, a folder, a
    device or pipe such as /dev/zero, which would be read forever) otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "file not found")
    if path.is_dir():
        raise InputError(path, None, "is a folder, expected a file")
    if not path.is_file():
        raise InputError(path, None, "is not a regular file (a device, pipe or socket); give a file")
    if not os.access(path, os.R_OK):
        raise InputError(path, None, "permission denied: cannot read the file")
    return path


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (the suffix may lie)."""
    with open(check_readable(path), "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a possibly gzip-compressed file for reading bytes."""
    path = check_readable(path)
    # GzipFile and BufferedReader both are binary file objects; their stubs don't say IO[bytes].
    return cast(IO[bytes], gzip.open(path, "rb") if is_gzip(path) else open(path, "rb"))


def iter_raw_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, bytes)`` without line ends; a lone CR also ends a line (old Mac
    exports). A gzip stream that ends early or is corrupt is an InputError at the line it hit."""
    path = Path(path)
    number = 0
    with open_binary(path) as fh:
        try:
            for raw in fh:
                body = raw.rstrip(b"\r\n")
                for part in body.split(b"\r") if b"\r" in body else (body,):
                    number += 1
                    yield number, part
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(path, number + 1, f"the gzip data is truncated or corrupt ({exc})") from None


def decode_line(raw: bytes) -> str:
    """Decode one line as UTF-8, falling back to cp1252 (Excel exports) so a header never fails."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.lstrip("\ufeff").rstrip("\r\n")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with 1-based numbers, BOM and CR/LF stripped."""
    for number, raw in iter_raw_lines(path):
        yield number, decode_line(raw)


def first_line(path: str | Path) -> str:
    """The header line of a text file (empty string for an empty file)."""
    for _, text in iter_lines(path):
        return text
    return ""
