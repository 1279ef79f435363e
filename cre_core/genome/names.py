"""Chromosome names: one spelling (SGD's ``chrI``..``chrXVI``, ``chrmt``) whatever the source.

SGD's GFF and its embedded FASTA say ``chrI``; SGD's separate ``S288C_reference_sequence_*.fsa``
says ``>ref|NC_001133| [org=...] [chromosome=I]`` (``[location=mitochondrion]`` for chrmt);
Ensembl and NCBI files say ``I`` / ``Mito`` or ``... chromosome I, complete sequence``.
"""

from __future__ import annotations

import re

MITO = "chrmt"
ROMAN = (
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII",
    "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI",
)
_ALIASES = {r: f"chr{r}" for r in ROMAN} | {
    alias: MITO for alias in ("chrM", "chrMT", "chrMito", "M", "MT", "Mito", "mitochondrion")
}
_BRACKETS = re.compile(r"\[(\w+)=([^\]]*)\]")
_NCBI_TITLE = re.compile(r"\bchromosome (" + "|".join(ROMAN) + r")\b")
_NCBI_MITO = re.compile(r"\bmitochondrion\b")
_KNOWN = frozenset(_ALIASES.values())


def canonical_chrom(name: str) -> str:
    """``I`` -> ``chrI``, ``Mito``/``chrM`` -> ``chrmt``; other names are kept as they are."""
    return _ALIASES.get(name, name)


def fasta_header_chrom(header: str) -> str:
    """The chromosome a FASTA header (the text after ``>``) names.

    ``chrI`` -> chrI; ``ref|NC_001133| [chromosome=I]`` -> chrI;
    ``ref|NC_001224| [location=mitochondrion]`` -> chrmt;
    ``NC_001133.9 Saccharomyces cerevisiae S288C chromosome I, complete sequence`` -> chrI;
    anything else -> its first word.
    """
    tags = dict(_BRACKETS.findall(header))
    if "chromosome" in tags:
        return canonical_chrom(tags["chromosome"].strip())
    if tags.get("location", "").strip() == "mitochondrion":
        return MITO
    words = header.split()
    first = canonical_chrom(words[0]) if words else ""
    if first in _KNOWN:
        return first
    title = _NCBI_TITLE.search(header)
    if title:
        return canonical_chrom(title.group(1))
    if _NCBI_MITO.search(header):
        return MITO
    return first
