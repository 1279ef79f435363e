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
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cre_core.errors import CreError

DEFAULT_WORKSPACE = Path("workspace/demo")
ENV_VAR = "CRE_WORKSPACE"


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
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(self.db_path), read_only=read_only)
        except duckdb.IOException as exc:
            raise CreError(f"cannot open {self.db_path}: {exc}") from exc


def resolve_workspace(path: str | Path | None = None) -> Workspace:
    """The workspace named by ``path``, else ``$CRE_WORKSPACE``, else ``workspace/demo``."""
    chosen = path or os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE
    return Workspace(Path(chosen).expanduser().resolve())
