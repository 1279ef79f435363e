"""ruff and mypy stay clean on cre_core (configured in pyproject.toml; the test extra installs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("tool", [["ruff", "check", "cre_core"], ["mypy"]], ids=["ruff", "mypy"])
def test_core_passes(tool):
    out = subprocess.run([sys.executable, "-m", *tool], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
