"""Atomic file writes: a reader (the app, a resumed run) sees the old file or the new one, never half.

Also the JSON side of it: ``clean_json`` (the one NaN -> None rule of every output),
``write_json_atomic`` and ``read_json`` (the one reader of the JSON files cre_core writes).

Every file cre_core writes for another process to read goes through ``atomic_path``: the writer
fills a temporary sibling (same folder, so the rename cannot cross file systems), which is
fsynced and then renamed onto the target with ``os.replace``. On any error the temporary file
is removed and the target stays as it was.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    The temporary name is not created beforehand, so the writer (``torch.save``,
    ``to_parquet``...) creates it with the usual permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def is_missing(value: Any) -> bool:
    """None, NaN or NaT: a value that is not there (NaN and NaT are unequal to themselves)."""
    try:
        return value is None or bool(value != value)
    except TypeError:                        # pd.NA: its comparisons are NA, with no truth value
        return True


def clean_json(value: Any) -> Any:
    """NaN/NaT/inf → None, numpy scalars → Python, recursively (strict JSON for every reader)."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if is_missing(value) or (isinstance(value, float) and math.isinf(value)):
        return None
    return value


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Strict JSON (see ``clean_json``), written atomically."""
    write_text_atomic(path, json.dumps(clean_json(data), indent=1, allow_nan=False))


def read_json(path: str | Path) -> Any:
    """A JSON file cre_core wrote; None when it does not exist, CreError when it is unreadable."""
    from cre_core.errors import CreError

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CreError(f"{path} cannot be read ({exc}); remove or repair it") from exc
