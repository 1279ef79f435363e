"""User-facing errors: values a user can act on, never tracebacks."""

from __future__ import annotations

from pathlib import Path


class CreError(Exception):
    """An error caused by user input (bad file, unknown gene, missing data).

    The CLI prints ``str(error)`` on one line and exits non-zero; pages show it with st.error.
    """


class InputError(CreError):
    """A problem at a known place in an input file: ``file line N: problem``."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path} line {line:,}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")
