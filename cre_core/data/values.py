"""Plausibility of measured numbers: fitness, ε, p-values and their spreads.

Every value in these screens is near 1 (fitness relative to wild type) or below it in size (ε,
p, std). ``inf`` or ``-1e308`` parse as numbers but are typos or export accidents; one of them
makes training diverge at its first step, so ingest refuses them with the file and line.
"""

from __future__ import annotations

import math

MAX_ABS = 100.0   # far beyond any real fitness/ε/std; small enough to keep float32 training sane


def implausible(value: float) -> bool:
    """True for NaN, ±inf and magnitudes beyond MAX_ABS."""
    return not math.isfinite(value) or abs(value) > MAX_ABS


def implausible_sql(column: str) -> str:
    """SQL twin of :func:`implausible` (NULL stays NULL: a missing value is allowed)."""
    return f"(NOT isfinite({column}) OR abs({column}) > {MAX_ABS})"


def problem(column: str, value: float | str) -> str:
    """The message for an implausible value."""
    return f"column '{column}': {value} is not a plausible value (finite, |x| ≤ {MAX_ABS:g})"
