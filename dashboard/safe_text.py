"""Text from data or a visitor, made safe to place in Streamlit markdown.

Every Streamlit element that renders markdown (markdown, caption, info/warning/error/success,
toast, subheader, metric, widget, expander and tab labels) would turn a gene name such as
``**PWN**![t](http://host/t.png)`` into bold text and an image that every visitor's browser
fetches. Pages pass each piece of data, and anything a visitor typed, through :func:`md` (or
:func:`md_code` for an inline code span) when they build markdown; the page's own markup stays
outside. Tables (st.dataframe), st.code and st.json show plain text and need neither.
"""

from __future__ import annotations

import re
from typing import Any

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")      # every ASCII punctuation character
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# GitHub-style autolinks are found in the text after escapes are resolved: a word joiner
# (U+2060, invisible) after the scheme or ``www`` and after ``@`` keeps URLs and addresses text.
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|www)(?=[:.])|@)")
WORD_JOINER = "\u2060"


def md(value: Any) -> str:
    """``value`` as text that markdown shows literally: every ASCII punctuation character
    backslash-escaped (CommonMark allows it for all of them; it also stops Streamlit's
    ``:color[...]`` directives and ``$`` math), line breaks made spaces (no new block), and
    URLs kept from becoming links (a word joiner after the scheme, ``www`` or ``@``)."""
    text = _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, _LINE_BREAKS.sub(" ", str(value)))
    return _PUNCTUATION.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """``value`` as an inline code span: fenced by one backtick more than its longest run of
    backticks, so no content can close the span early."""
    text = _LINE_BREAKS.sub(" ", str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_join(values: Any, sep: str = ", ") -> str:
    """Escaped items joined by ``sep`` (the page's own separator, not escaped)."""
    return sep.join(md(v) for v in values)
