"""The core stays free of UI: no module under cre_core/ imports streamlit or altair."""

from __future__ import annotations

from pathlib import Path

from tests.import_scan import imported_modules

CORE = Path(__file__).resolve().parents[1] / "cre_core"
UI_PACKAGES = {"streamlit", "altair"}


def ui_imports(source: str) -> list[str]:
    """Top-level package names of UI libraries imported anywhere in ``source`` (even lazily)."""
    return [n for _, n in imported_modules(source) if n.split(".")[0] in UI_PACKAGES]


def test_scanner_sees_lazy_and_dotted_imports():
    source = "def f():\n    import altair as alt\nfrom streamlit.errors import X\nimport numpy\n"
    assert sorted(ui_imports(source)) == ["altair", "streamlit.errors"]


def test_core_never_imports_ui():
    offenders = {str(p.relative_to(CORE)): names for p in sorted(CORE.rglob("*.py"))
                 if (names := ui_imports(p.read_text()))}
    assert len(list(CORE.rglob("*.py"))) > 40          # the scan really covers the package
    assert offenders == {}


# The layers of cre_core, lowest first. A module may import from its own layer or any lower one,
# never from a higher one (lazy imports inside functions count too: they are dependencies all
# the same). Why this order:
# - core modules (errors, text and atomic I/O, the workspace, processes, devices, metrics) know
#   nothing of the science;
# - genome parses genomes into CRE windows; data ingests screens and the GO into the store (and
#   reads published split files); demo simulates a world and writes it in the real formats, then
#   ingests it through data;
# - embed turns windows into gene representations, cached tables and the trained encoder alike
#   (job_slots sits here: it caps background jobs and counts the embedding jobs it is asked for);
# - models are torch modules over those representations (no I/O); train builds, fits, saves and
#   evaluates them from the store;
# - query reads trained runs and the store (predictions, the Datasets page's tables and SQL box);
#   interpret and explore build on query;
# - the CLI and the workspace overview sit on top of everything.
LAYERS = (
    {"errors", "textio", "atomic", "workspace", "processes", "runtime", "metrics", "lazy"},
    {"genome"},
    {"data"},
    {"demo"},
    {"embed", "job_slots"},
    {"models"},
    {"train"},
    {"query"},
    {"interpret", "explore"},
    {"overview", "cli", "__main__"},
)
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def room(path: Path) -> str:
    """The subpackage or top-level module of cre_core that ``path`` belongs to."""
    rel = path.relative_to(CORE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def core_imports(source: str) -> list[tuple[int, str]]:
    """(line, room) of every cre_core subpackage or module that ``source`` imports, even lazily."""
    return [(line, parts[1]) for line, parts in ((line, n.split(".")) for line, n in imported_modules(source))
            if parts[0] == "cre_core" and len(parts) > 1 and parts[1] in RANK]


def upward_imports(own: str, source: str) -> list[str]:
    return [f"{own} -> {target} (line {line})" for line, target in sorted(core_imports(source))
            if RANK[target] > RANK[own]]


def test_scanner_sees_upward_lazy_and_package_level_imports():
    source = ("from cre_core.genome import windows\n"
              "def f():\n    from cre_core.train.loop import train_run\n"
              "import cre_core.query.service\nfrom cre_core import runtime, __version__\n")
    assert upward_imports("data", source) == ["data -> train (line 3)", "data -> query (line 4)"]
    assert upward_imports("train", source) == ["train -> query (line 4)"]
    assert upward_imports("cli", source) == []


def test_every_room_has_a_layer():
    rooms = {room(p) for p in CORE.rglob("*.py")} - {"__init__"}
    assert {"data", "demo", "embed", "models", "train", "query"} <= rooms
    assert rooms - RANK.keys() == set(), "place the new module or subpackage in LAYERS"


def test_no_module_imports_from_a_higher_layer():
    offenders = [f"{p.relative_to(CORE)}: {hit}" for p in sorted(CORE.rglob("*.py"))
                 if room(p) != "__init__" for hit in upward_imports(room(p), p.read_text())]
    assert offenders == []
