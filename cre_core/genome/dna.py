"""DNA strands: the one reverse complement (str, bytes, or uint8 arrays via ``COMPLEMENT``).

IUPAC two-base codes are complemented (R<->Y, K<->M; S, W and N are their own complement),
soft-masked lower case stays lower case; any other byte is left as it is.
"""

from __future__ import annotations

from typing import TypeVar

_FROM, _TO = b"ACGTRYKMSWN", b"TGCAYRMKSWN"
# A 256-byte translation table: bytes.translate, or numpy fancy indexing of uint8 sequences.
COMPLEMENT = bytes.maketrans(_FROM + _FROM.lower(), _TO + _TO.lower())
_COMPLEMENT_STR = str.maketrans((_FROM + _FROM.lower()).decode(), (_TO + _TO.lower()).decode())

Seq = TypeVar("Seq", str, bytes)


def reverse_complement(seq: Seq) -> Seq:
    """The other strand of ``seq``, read 5' to 3'."""
    if isinstance(seq, bytes):
        return seq.translate(COMPLEMENT)[::-1]
    return seq.translate(_COMPLEMENT_STR)[::-1]
