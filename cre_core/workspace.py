"""A workspace is one project folder: the DuckDB store plus embeddings and runs.

Layout::

    WORKSPACE/cre.duckdb      genes, windows, smf, dmf, raw SGA rows, GO tables
    WORKSPACE/raw/            input files (the demo generator writes here)
    WORKSPACE/embeddings/     embedding caches (Parquet), written by embed processes
    WORKSPACE/runs/RUN_ID/    one folder per training run, written by the training process

Only ingest writes ``cre.duckdb``; embedding and training processes write their own files so
the app (a read-only reader) never fights them for DuckDB's single-writer lock.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cre_core.errors import CreError

DEFAULT_WORKSPACE = Path("workspace/demo")
ENV_VAR = "CRE_WORKSPACE"
MAX_NAME_BYTES = 255    # NAME_MAX of Linux, macOS and Windows file systems
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")
_CORRUPT = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt", "checksum")


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace folder."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "cre.duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def embeddings_dir(self) -> Path:
        return self.root / "embeddings"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def exists(self) -> bool:
        return self.db_path.exists()

    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """Open the store; read-only unless ingesting, so many readers can share it."""
        if read_only and not self.db_path.exists():
            raise CreError(
                f"no workspace at {self.root}: build one with "
                f"`python -m cre_core demo --workspace {self.root}` or `ingest`"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = "is a file, not a folder" if self.root.is_file() else f"cannot be created ({exc.strerror})"
            raise CreError(f"the workspace folder {self.root} {what}") from None
        try:
            return duckdb.connect(str(self.db_path), read_only=read_only)
        except duckdb.IOException as exc:
            raise store_error(exc, self.db_path) from exc


def store_error(exc: duckdb.Error, db_path: Path | None = None) -> CreError:
    """What an I/O error of the store means for the user: locked (by whom; what to do),
    corrupt (retrying will not help), or the error itself."""
    message = str(exc).splitlines()[0]
    where = str(db_path) if db_path else "the workspace store"
    if held := _LOCK_HOLDER.search(message):
        program, pid = held.groups()
        return CreError(
            f"{where} is in use by another process (PID {pid}, {program}); one process may write the "
            f"store at a time: wait for it to finish, or stop it (kill {pid}) if it is stuck"
        )
    if any(mark in message for mark in _CORRUPT):
        return CreError(
            f"{where} is corrupt or truncated ({message}): retrying will not help; rebuild it "
            "with `demo --force` or ingest the files into a new workspace"
        )
    return CreError(f"cannot open {where}: {message}")


def check_path(text: str) -> None:
    """CreError for a path no file system accepts: a NUL byte, or a part over 255 bytes."""
    if "\x00" in text:
        raise CreError(f"the workspace path {text!r} contains a NUL byte; type a plain folder path")
    for part in Path(text).parts:
        size = len(os.fsencode(part))
        if size > MAX_NAME_BYTES:
            raise CreError(f"the workspace path has a folder name of {size} bytes ('{part[:30]}…'); "
                           f"file systems allow at most {MAX_NAME_BYTES}")


def resolve_workspace(path: str | Path | None = None) -> Workspace:
    """The workspace named by ``path``, else ``$CRE_WORKSPACE``, else ``workspace/demo``."""
    chosen = str(path or os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE)
    check_path(chosen)
    return Workspace(Path(chosen).expanduser().resolve())
