"""A workspace is one project folder: the DuckDB store plus embeddings and runs.

Layout::

    WORKSPACE/cre.duckdb      genes, windows, smf, dmf, raw SGA rows, GO tables
    WORKSPACE/raw/            input files (the demo generator writes here)
    WORKSPACE/embeddings/     embedding caches (Parquet), written by embed processes
    WORKSPACE/runs/RUN_ID/    one folder per training run, written by the training process
    WORKSPACE/.jobs.lock      taken while a background job is counted and started (job_slots)
    WORKSPACE/.cre.duckdb.PID.building   a first ingest's store until it is complete

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
_HEADER_BYTES = 3 * 4096   # DuckDB's file header and two database headers, before the first block
BUILDING_SUFFIX = ".building"   # a new store under construction: ``.cre.duckdb.PID.building``


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

    def store_stamp(self) -> tuple[int, ...]:
        """The store's version as the file system sees it (inode, mtime and size of the file and
        of its write-ahead log): it changes whenever an ingest commits or a store is replaced, so
        every cache of what the store holds is keyed on it; () when there is no store."""
        stamp: list[int] = []
        for path in (self.db_path, self.db_path.with_name(self.db_path.name + ".wal")):
            try:
                st = path.stat()
            except OSError:
                if not stamp:
                    return ()
                break
            stamp += [st.st_ino, st.st_mtime_ns, st.st_size]
        return tuple(stamp)

    def connect(self, read_only: bool = True, path: Path | None = None) -> duckdb.DuckDBPyConnection:
        """Open the store; read-only unless ingesting, so many readers can share it. ``path``:
        another file in the folder (a new store that ingest builds before it takes its name)."""
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
        path = path or self.db_path
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            raise store_error(exc, path) from exc
        if read_only:
            check_complete(con, path)
        return con


def check_complete(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """CreError (and ``con`` closed) when the file is too short for the blocks in use that its
    header lists: a truncated store opens fine and fails only at the first query that reads a
    lost block. (Free blocks at the end may be trimmed from the file, so only used ones count;
    with a write-ahead log being replayed, blocks may live in memory only, so there is no check;
    a cut this misses is caught where the read fails: ``store_error``.)"""
    if db_path.with_name(db_path.name + ".wal").exists():
        return
    try:
        block_size, used = con.execute(
            "SELECT block_size, used_blocks FROM pragma_database_size()").fetchall()[0]
        size = db_path.stat().st_size
    except (duckdb.Error, OSError) as exc:
        con.close()
        raise CreError(f"cannot read {db_path}: {exc}") from None
    if size < _HEADER_BYTES + int(block_size) * int(used):
        con.close()
        raise _corrupt(str(db_path), f"{size:,} bytes where its header lists "
                       f"{int(used):,} blocks in use of {int(block_size):,}")


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
        return _corrupt(where, message)
    if isinstance(exc, duckdb.CatalogException):
        return CreError(f"{where} lacks a table ({message}); it was made by an interrupted or older "
                        "ingest: ingest the files again")
    return CreError(f"cannot open {where}: {message}")


def _corrupt(where: str, detail: str) -> CreError:
    """The advice touches nothing the user made: move the store aside, then rebuild it."""
    return CreError(
        f"{where} is corrupt or truncated ({detail}): retrying will not help; move it aside and "
        "ingest the files again (a demo workspace: `demo --force` rebuilds only the demo's store "
        "and raw files)"
    )


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
