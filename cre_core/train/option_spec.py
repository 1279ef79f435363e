"""One option as the CLI, the form and validation see it (``OptionSpec``), declared once as a
dataclass field (``option``): TrainConfig's shared options and each model's section of options.

No torch and no other cre_core module here: model specs declare their sections with it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


def option(default: Any = dataclasses.MISSING, help: str = "", *, choices: tuple = (),
           at_least: float | None = None, above: float | None = None,
           below: float | None = None, at_most: float | None = None, step: float | None = None,
           name: str | None = None) -> Any:
    """A TrainConfig field with its help, choices and bounds (``at_least``/``above`` and
    ``below``/``at_most`` are the lowest allowed value, an exclusive lower and an exclusive
    upper bound, the highest allowed value); ``step`` is the form's increment. Sizes and
    counts have an upper bound far above any useful value, so that a typo or a visitor of a
    shared app cannot ask for a run that would hold the machine for days or exhaust memory.
    ``name``: the option's name (its flag, form key and flat key) when it is not the section's
    name and the field's joined by ``_`` (``wt.warmup`` is ``wt_warmup``, ``--wt-warmup``)."""
    meta = {"help": help, "choices": tuple(choices), "at_least": at_least, "above": above,
            "below": below, "at_most": at_most, "step": step, "name": name}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """One option as the CLI, the form and validation see it."""

    name: str                  # the flag without --, the form's key, the flat key
    kind: type                 # int, float, str or bool
    default: Any               # dataclasses.MISSING when the option is required
    optional: bool             # None allowed (an empty value)
    help: str
    choices: tuple = ()
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    at_most: float | None = None
    step: float | None = None
    path: tuple[str, ...] = ()   # attributes from TrainConfig to the value (a section's field: two)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def minimum(self) -> float | None:
        """The lowest value a widget may offer (exclusive bounds are left to validation)."""
        return self.at_least

    @property
    def maximum(self) -> float | None:
        """The highest value a widget may offer (exclusive bounds are left to validation)."""
        return self.at_most

    def bounds(self) -> str:
        """``at least 1``, ``above 0 and below 1``...; empty without bounds."""
        parts = [f"at least {self.at_least:g}" if self.at_least is not None else "",
                 f"above {self.above:g}" if self.above is not None else "",
                 f"below {self.below:g}" if self.below is not None else "",
                 f"at most {self.at_most:g}" if self.at_most is not None else ""]
        return " and ".join(p for p in parts if p)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed for this option, or None when it is."""
        if value is None:
            return None if self.optional else "must be given"
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be true or false; got {value!r}"
        if self.kind is str:
            if not isinstance(value, str):
                return f"must be text; got {value!r}"
        elif self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"must be a whole number; got {value!r}"
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number; got {value!r}"
            if not math.isfinite(value):
                return f"must be a finite number; got {value!r}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}; got {value!r}"
        if self.kind in (int, float) and not (
                (self.at_least is None or value >= self.at_least)
                and (self.above is None or value > self.above)
                and (self.below is None or value < self.below)
                and (self.at_most is None or value <= self.at_most)):
            return f"must be {self.bounds()}; got {value!r}"
        return None
