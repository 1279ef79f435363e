"""How predicted values read in the CLI and the app: 4 decimals, no "-0.0000", dashes for none."""

from __future__ import annotations

import math


def fmt_value(x: float | None, digits: int = 4) -> str:
    """``0.1235``; ``–`` for None/NaN; a value that rounds to zero reads ``0.0000``, never ``-0.0000``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{round(float(x), digits) + 0.0:.{digits}f}"


def fmt_interval(lo: float | None, hi: float | None, digits: int = 4) -> str:
    """``[0.8123, 0.9001]``, or ``no interval`` when the run has none (a single model)."""
    if lo is None or hi is None or lo != lo or hi != hi:
        return "no interval"
    return f"[{fmt_value(lo, digits)}, {fmt_value(hi, digits)}]"


def fmt_support(count: int) -> str:
    """Training support of one gene: ``seen in training: 312 strains`` or ``never seen``.

    Strains, not pairs: runs train on single, double and triple deletions alike.
    """
    return f"seen in training: {count:,} strain{'s' if count != 1 else ''}" if count else "never seen"


def tidy_zeros(values, digits: int = 4):
    """A numeric column with the tiny negatives that would print as -0.0000 set to 0 (others kept)."""
    return values.mask((values < 0) & (values > -0.5 * 10 ** -digits), 0.0)
