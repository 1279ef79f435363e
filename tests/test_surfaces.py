"""Each cre_core subpackage has a public surface (its ``__init__``'s ``__all__``); the app's pages
and dashboard import only those surfaces, never a subpackage's private modules."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_scan import imported_modules

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "cre_core"
SUBPACKAGES = sorted(p.parent.name for p in CORE.glob("*/__init__.py"))
LIGHT = ["data", "demo", "embed", "explore", "genome", "interpret", "query", "train"]   # no torch on import


def deep_imports(source: str) -> list[str]:
    """Modules of ``source``'s cre_core imports that reach below a subpackage's surface:
    ``cre_core.<package>.<module>`` (``cre_core``, ``cre_core.<package>`` and top-level modules
    such as ``cre_core.workspace`` are fine)."""
    return [n for _, n in imported_modules(source) if n.startswith("cre_core.") and n.count(".") > 1]


def test_scanner_flags_private_modules_even_lazily():
    source = ("from cre_core.train import jobs\nimport cre_core.workspace\n"
              "def f():\n    from cre_core.query.service import scan\n")
    assert deep_imports(source) == ["cre_core.query.service"]


def test_pages_and_dashboard_import_only_surfaces():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "dashboard").glob("*.py"))]
    assert len(files) > 15
    offenders = {str(p.relative_to(ROOT)): names for p in files if (names := deep_imports(p.read_text()))}
    assert offenders == {}


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_surface_name_resolves(package):
    module = importlib.import_module(f"cre_core.{package}")
    assert module.__all__, f"cre_core.{package} declares no surface"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_no_surface_name_hides_a_module(package):
    """``cre_core.<package>.<module>`` must stay that module (``monkeypatch.setattr`` by dotted
    name, ``import ... as``): a function of the same name on the surface would replace it."""
    module = importlib.import_module(f"cre_core.{package}")
    submodules = {p.stem for p in (CORE / package).glob("*.py")} - {"__init__"}
    hidden = [name for name in module.__all__ if name in submodules
              and getattr(module, name) is not importlib.import_module(f"cre_core.{package}.{name}")]
    assert hidden == []


def test_light_surfaces_import_no_torch():
    """Listing runs, browsing the store or starting a command must not pay for torch."""
    code = f"import sys\nfor p in {LIGHT!r}:\n    __import__('cre_core.' + p)\nprint('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
