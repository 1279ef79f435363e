"""Names a package's surface offers without importing them until they are used.

Training and querying need torch; listing runs, browsing the store or registering the CLI's
commands do not. A package's ``__init__`` imports its light modules and names the torch-backed
ones here, so ``import cre_core.train`` (and every command's start) stays free of torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps an attribute to the submodule
    defining it, imported on first use (the value is then kept on the package)."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
