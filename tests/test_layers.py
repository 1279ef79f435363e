"""The core stays free of UI: no module under cre_core/ imports streamlit or altair."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "cre_core"
UI_PACKAGES = {"streamlit", "altair"}


def ui_imports(source: str) -> list[str]:
    """Top-level package names of UI libraries imported anywhere in ``source`` (even lazily)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in UI_PACKAGES]
    return found


def test_scanner_sees_lazy_and_dotted_imports():
    source = "def f():\n    import altair as alt\nfrom streamlit.errors import X\nimport numpy\n"
    assert sorted(ui_imports(source)) == ["altair", "streamlit.errors"]


def test_core_never_imports_ui():
    offenders = {str(p.relative_to(CORE)): names for p in sorted(CORE.rglob("*.py"))
                 if (names := ui_imports(p.read_text()))}
    assert len(list(CORE.rglob("*.py"))) > 40          # the scan really covers the package
    assert offenders == {}
