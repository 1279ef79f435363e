"""Batch-query CSV files as users save them: any encoding Excel writes, rows of any length.

Decoding: a byte-order mark names the encoding (UTF-8, UTF-16, UTF-32); a BOM-less UTF-16 file
is recognised by its NUL bytes; otherwise UTF-8, falling back to Windows-1252 (then Latin-1,
which reads any byte) with a note naming the encoding used.

Each physical line is parsed on its own, so one bad line is one reported row and never shifts
the others: a row with more values than the header keeps them all (a set of four genes is then
refused as "4 genes; at most 3 per set" by the set check, not silently cut), and an unbalanced
quote is reported for its line. Rows are numbered by their line in the file, header included,
as a spreadsheet numbers them.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field

from cre_core.errors import CreError

_SEPARATORS = re.compile(r"[\s,;+\"']+")
_BOMS = (   # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class BatchRows:
    """The gene sets of a batch file, the line each came from, and the lines that were unreadable."""

    sets: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)    # {"row", "genes", "problem"}
    note: str | None = None                                # how the file was decoded, when not UTF-8


def parse_names(text: str) -> list[str]:
    """Names from one line of text: ``"tfc3, YBR001C"`` → ``["tfc3", "YBR001C"]``."""
    return [t for t in _SEPARATORS.split(text.strip()) if t]


def decode(data: bytes) -> tuple[str, str | None]:
    """The file's text and a note naming the encoding when it was not (BOM-less) UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff"), None
            except UnicodeDecodeError as exc:
                raise CreError(f"the file starts with a {encoding.upper()} byte-order mark but is "
                               f"not valid {encoding.upper()} (byte {exc.start:,})") from None
    head = data[:1000]
    if head.count(b"\x00") * 4 > len(head):    # ASCII text in UTF-16 without a BOM
        encoding = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        try:
            return data.decode(encoding), f"read as {encoding.upper()} (no byte-order mark)"
        except UnicodeDecodeError:
            raise CreError("the file holds NUL bytes but is not UTF-16 text: save it as CSV") from None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    for encoding, label in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            return data.decode(encoding), f"not UTF-8: read as {label}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")


def read_batch(data: bytes | str, max_sets: int) -> BatchRows:
    """Gene sets from an uploaded CSV: a ``genes`` column, ``gene1, gene2...`` columns, or no
    header (one set per line). CreError when the file holds no sets or more than ``max_sets``."""
    text, note = decode(data) if isinstance(data, bytes) else (data, None)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise CreError("the file is empty: one gene set per row, e.g. a 'genes' column with TFC3,YBR001C")
    out = BatchRows(note=note)
    first = next(i for i, line in enumerate(lines) if line.strip())
    delimiter = _delimiter(lines[first])
    header = [h.strip().lower() for h in _cells(lines[first], delimiter) or []]
    gene_columns = [i for i, h in enumerate(header) if h.startswith("gene")]
    body = lines[first + 1:] if gene_columns else lines[first:]
    start = first + 2 if gene_columns else first + 1
    for number, line in enumerate(body, start=start):
        if not line.strip():
            continue
        genes, problem = _row(line, delimiter, header, gene_columns)
        if problem:
            out.problems.append({"row": number, "genes": line.strip()[:80], "problem": problem})
        elif genes:
            out.sets.append(genes)
            out.lines.append(number)
    if not out.sets and not out.problems:
        raise CreError("no gene sets found: put names in a 'genes' column or in gene1, gene2... columns")
    if len(out.sets) > max_sets:
        raise CreError(f"{len(out.sets):,} gene sets: at most {max_sets:,} per file")
    return out


def _delimiter(line: str) -> str:
    try:
        return csv.Sniffer().sniff(line, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _cells(line: str, delimiter: str) -> list[str] | None:
    """The cells of one line; None when a quote is left open (it would swallow later lines)."""
    if line.count('"') % 2:
        return None
    return next(csv.reader([line], delimiter=delimiter), [])


def _row(line: str, delimiter: str, header: list[str],
         gene_columns: list[int]) -> tuple[list[str], str | None]:
    """The genes of one data line, or the reason it cannot be read."""
    if not gene_columns:
        return parse_names(line), None
    if header == ["genes"]:       # one column: the rest of the line is the set, quoted or not
        return parse_names(line), None
    cells = _cells(line, delimiter)
    if cells is None:
        return [], "unbalanced quote (\"): close it or remove it"
    extra = [c.strip() for c in cells[len(header):] if c.strip()]
    if extra and len(gene_columns) < len(header):
        return [], f"{len(cells)} values, but the header has {len(header)} columns"
    if "genes" in header:
        names = parse_names(cells[header.index("genes")]) if header.index("genes") < len(cells) else []
        return names, None
    values = [cells[i].strip() for i in gene_columns if i < len(cells)] + extra
    return [v for v in values if v], None
