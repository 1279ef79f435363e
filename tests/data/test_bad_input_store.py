"""The bad-input corpus, store half of issue 26: caches that follow the store, demo facts that go
with the demo's data, markdown-safe text, caps on options and jobs, non-regular files, corrupt
and half-made stores, a SQL box that shows no paths, and shared mode.

Each case asserts the message, the exit status and that nothing else changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from cre_core.errors import CreError
from cre_core.workspace import Workspace
from tests.data.test_bad_input import SMF_NAME, assert_refused, run_cli

ROOT = Path(__file__).resolve().parents[2]


def files_under(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its size (what a command must leave alone)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert message in err, err


def quick_run(ws: Workspace, model: str = "multiplicative") -> str:
    from cre_core.train.config import TrainConfig
    from cre_core.train.loop import train_run

    return train_run(ws, TrainConfig.of(model=model, epochs=1), echo=lambda m: None)["run_id"]


def smf_file_with(ws: Workspace, tmp: Path, gene: str, fitness: float) -> Path:
    """The demo's SMF file with every strain of ``gene`` set to ``fitness`` (a file outside raw/)."""
    lines = (ws.raw_dir / SMF_NAME).read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0].split("_")[0] == gene:
            cells[2] = cells[4] = str(fitness)
        out.append(",".join(cells))
    path = tmp / "smf_new.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def smf_genes(ws: Workspace, n: int) -> list[str]:
    con = ws.connect()
    try:
        return [g for (g,) in con.execute(
            "SELECT gene FROM smf WHERE fitness > 0.5 AND gene IN (SELECT gene FROM genes) ORDER BY gene "
            f"LIMIT {n}").fetchall()]
    finally:
        con.close()


# --- C: caches follow the store ----------------------------------------------------------------

def test_query_page_shows_the_new_smf_in_the_same_server(workspace_copy, tmp_path, capsys, monkeypatch):
    """The page and the service cache it shares, in one process: no restart between ingest and query."""
    from streamlit.testing.v1 import AppTest

    from cre_core.query import service

    ws = workspace_copy
    run = quick_run(ws)
    a, b = smf_genes(ws, 2)
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    at = AppTest.from_file(str(ROOT / "pages" / "query.py"), default_timeout=30)
    at.run(timeout=30)
    at.text_input(key="q_genes").set_value(f"{a}, {b}").run(timeout=30)

    def shown() -> dict[str, str]:
        return {m.label: m.value for m in at.metric}

    before = shown()
    run_cli(capsys, "ingest", "--workspace", ws.root, "--smf", smf_file_with(ws, tmp_path, a, 0.2))
    at.run(timeout=30)                                       # the same server process, its caches warm
    after = shown()
    assert not at.exception
    con = ws.connect()
    try:
        f_b = con.execute("SELECT fitness FROM smf WHERE gene = ?", [b]).fetchall()[0][0]
    finally:
        con.close()
    assert after["Π SMF (multiplicative)"] == f"{0.2 * f_b:.4f}" != before["Π SMF (multiplicative)"]
    assert after["Predicted ε̂"] != before["Predicted ε̂"]
    pair = service.predict(ws, run, [a, b])
    assert pair["multiplicative"] == pytest.approx(0.2 * f_b, abs=1e-9)
    assert pair["epsilon_pred"] == pytest.approx(pair["predicted"] - 0.2 * f_b, abs=1e-9)
    assert service.predict(ws, run, [a])["measured_fitness"] == pytest.approx(0.2)


def test_store_stamp_changes_with_every_ingest_and_replacement(workspace_copy, tmp_path, capsys):
    ws = workspace_copy
    first = ws.store_stamp()
    assert first and ws.store_stamp() == first
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--obo", ws.raw_dir / "go-basic.obo")
    assert code == 0, err
    assert ws.store_stamp() != first
    assert Workspace(tmp_path / "none").store_stamp() == ()


# --- E: demo facts live in the store and go with the demo's data ---------------------------------

def test_foreign_data_drops_the_demo_truth_but_not_the_raw_files(workspace_copy, tmp_path, capsys):
    from cre_core.demo.ceiling import load_gene_facts, truth_ceiling
    from cre_core.overview import overview

    ws = workspace_copy
    assert load_gene_facts(ws) is not None and overview(ws).demo == {"demo_preset": "tiny", "demo_seed": "0"}
    a, = smf_genes(ws, 1)
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--smf", smf_file_with(ws, tmp_path, a, 0.3))
    assert code == 0
    assert "the demo's planted truth (demo_truth, its gene facts, preset and seed) no longer describes" in err
    assert (ws.raw_dir / "demo_gene_facts.json").exists()          # leftover raw file: ignored
    assert load_gene_facts(ws) is None and overview(ws).demo is None
    assert truth_ceiling(ws, [a], np.array([[0]]), np.ones(1), np.full(1, np.nan)) is None
    info = overview(ws)
    assert "demo_preset" not in info.meta and info.counts["smf"] > 0
    con = ws.connect()
    try:
        assert con.execute("SELECT count(*) FROM demo_truth").fetchall()[0][0] == 0
    finally:
        con.close()


def test_an_older_demo_store_keeps_its_facts_until_foreign_data_arrives(workspace_copy, tmp_path, capsys):
    from cre_core.demo.ceiling import load_gene_facts
    from cre_core.overview import overview

    ws = workspace_copy
    con = duckdb.connect(str(ws.db_path))          # a demo store made before the facts moved in
    con.execute("DROP TABLE demo_facts")
    con.close()
    assert load_gene_facts(ws) is not None and overview(ws).demo is not None
    # its own raw files: migrated into the store, still a demo
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--obo", ws.raw_dir / "go-basic.obo")
    assert code == 0, err
    (ws.raw_dir / "demo_gene_facts.json").unlink()
    assert load_gene_facts(ws) is not None and overview(ws).demo is not None
    a, = smf_genes(ws, 1)
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--smf", smf_file_with(ws, tmp_path, a, 0.3))
    assert code == 0
    assert load_gene_facts(ws) is None and overview(ws).demo is None


def test_an_older_demo_store_with_foreign_files_is_no_demo(workspace_copy, tmp_path):
    from cre_core.demo.ceiling import load_gene_facts
    from cre_core.overview import overview

    ws = workspace_copy
    con = duckdb.connect(str(ws.db_path))          # old code: foreign SMF ingested, meta left behind
    con.execute("DROP TABLE demo_facts")
    con.execute("UPDATE sources SET path = '/elsewhere/smf.csv', ingested_at = now() + INTERVAL 1 HOUR "
                "WHERE kind = 'smf'")
    con.close()
    assert load_gene_facts(ws) is None and overview(ws).demo is None


def test_a_leftover_facts_file_in_a_new_workspace_is_ignored(tiny_workspace, tmp_path, capsys):
    from cre_core.demo.ceiling import load_gene_facts

    ws = Workspace(tmp_path / "mine")
    ws.raw_dir.mkdir(parents=True)
    shutil.copy(tiny_workspace.raw_dir / "demo_gene_facts.json", ws.raw_dir)
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--smf", tiny_workspace.raw_dir / SMF_NAME)
    assert code == 0, err
    assert load_gene_facts(ws) is None


def test_home_says_demo_only_for_the_demos_data(workspace_copy, tmp_path, capsys, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRE_WORKSPACE", str(workspace_copy.root))
    at = AppTest.from_file(str(ROOT / "pages" / "home.py"), default_timeout=30)
    at.run(timeout=30)
    assert any("Demo workspace" in i.value for i in at.info)
    a, = smf_genes(workspace_copy, 1)
    smf = smf_file_with(workspace_copy, tmp_path, a, 0.3)
    run_cli(capsys, "ingest", "--workspace", workspace_copy.root, "--smf", smf)
    at = AppTest.from_file(str(ROOT / "pages" / "home.py"), default_timeout=30)
    at.run(timeout=30)
    assert not at.exception and not any("Demo workspace" in i.value for i in at.info)


# --- F: text from data is never markup ----------------------------------------------------------

INJECTION = "**PWN**![t](http://127.0.0.1:8798/t.png)[clickme](http://evil.example/)"


def test_md_escapes_every_markup_character():
    from dashboard.safe_text import md, md_code

    assert md(INJECTION) == ("\\*\\*PWN\\*\\*\\!\\[t\\]\\(http\u2060\\:\\/\\/127\\.0\\.0\\.1\\:8798\\/t\\.png\\)"
                             "\\[clickme\\]\\(http\u2060\\:\\/\\/evil\\.example\\/\\)")
    assert md("see www.x.org or a@b.com") == "see www\u2060\\.x\\.org or a\\@\u2060b\\.com"   # no autolinks
    assert md(":red[x] $x^2$ <b>b</b>\r\nline") == "\\:red\\[x\\] \\$x\\^2\\$ \\<b\\>b\\<\\/b\\> line"
    assert md_code("a ``b` c") == "```a ``b` c```"
    assert md_code("`x`") == "`` `x` ``"


def rename_gene(ws: Workspace, gene: str, name: str) -> None:
    con = duckdb.connect(str(ws.db_path))
    try:
        con.execute("UPDATE genes SET name = ? WHERE gene = ?", [name, gene])
    finally:
        con.close()


def test_a_gene_name_with_markup_renders_as_text_on_datasets(workspace_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ws = workspace_copy
    gene, = smf_genes(ws, 1)
    rename_gene(ws, gene, INJECTION)
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    at = AppTest.from_file(str(ROOT / "pages" / "datasets.py"), default_timeout=30)
    at.run(timeout=30)
    at.text_input(key="ds_detail_gene").set_value(gene).run(timeout=30)
    assert not at.exception
    heading = [h.value for h in at.subheader if gene in h.value]
    assert heading and "![" not in heading[0] and "\\!\\[t\\]" in heading[0], heading


def test_a_model_typed_on_the_embeddings_page_renders_as_text(workspace_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from cre_core.atomic import write_json_atomic
    from cre_core.embed.jobs import jobs_dir
    from dashboard.safe_text import md

    ws = workspace_copy
    folder = jobs_dir(ws) / "20260101-000000-specieslm-beef"
    folder.mkdir(parents=True)
    write_json_atomic(folder / "job.json", {"job": folder.name, "pid": None, "embedder": "specieslm",
                                            "model": "x`" + INJECTION, "regions": ["upstream"]})
    write_json_atomic(folder / "progress.json", {"state": "failed", "error": INJECTION})
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    at = AppTest.from_file(str(ROOT / "pages" / "embeddings.py"), default_timeout=30)
    at.run(timeout=30)
    assert not at.exception
    panel = [m.value for m in at.markdown if md(folder.name) in m.value]
    assert panel and f"``x`{INJECTION}``" in panel[0], panel      # a code span its backtick cannot close
    assert [e.value for e in at.error] == [md(INJECTION)]


# --- G: bounds, job cap, non-regular files ------------------------------------------------------

@pytest.mark.parametrize("option, value", [("epochs", 10**9), ("hidden", 10**6), ("ensemble", 10**6),
                                           ("patience", 10**9), ("batch_size", 10**9)])
def test_options_have_upper_bounds(option, value, workspace_copy, capsys):
    from cre_core.train.config import TrainConfig

    with pytest.raises(CreError, match=f"--{option.replace('_', '-')} must be at least .* and at most"):
        TrainConfig.of(model="deepset", **{option: value})
    before = files_under(workspace_copy.root)
    code, out, err = run_cli(capsys, "train", "--workspace", workspace_copy.root, "--model", "deepset",
                             f"--{option.replace('_', '-')}", str(value))
    one_line_error(code, err, "at most")
    assert files_under(workspace_copy.root) == before


@pytest.fixture
def sleeping_spawns(monkeypatch):
    """Background jobs that are real, live processes (sleep) instead of training runs."""
    from cre_core.train import jobs

    children: list[subprocess.Popen] = []

    def spawn(ws, folder, args):
        child = subprocess.Popen(["sleep", "60"])
        children.append(child)
        return child.pid

    monkeypatch.setattr(jobs, "_spawn", spawn)
    yield children
    for child in children:
        child.kill()
        child.wait()


def test_start_three_times_starts_at_most_the_cap(workspace_copy, sleeping_spawns, monkeypatch):
    from cre_core.embed import jobs as embed_jobs
    from cre_core.train import jobs
    from cre_core.train.config import TrainConfig

    monkeypatch.setenv("CRE_MAX_JOBS", "2")
    config = TrainConfig.of(model="mean", epochs=1)
    started = [jobs.launch(workspace_copy, config) for _ in range(2)]
    with pytest.raises(CreError, match=r"2 background job\(s\) already run .*at most 2 at a time \(\$CRE_MAX_JOBS\)"):
        jobs.launch(workspace_copy, config)
    assert sorted(p.name for p in workspace_copy.runs_dir.iterdir()) == sorted(started)
    with pytest.raises(CreError, match="at most 2 at a time"):          # embedding jobs share the slots
        embed_jobs.launch(workspace_copy, "specieslm", model="/nowhere")
    assert not embed_jobs.jobs_dir(workspace_copy).exists()
    for child in sleeping_spawns:
        child.kill()
        child.wait()
    assert len(jobs.launch_many(workspace_copy, [config] * 5)) == 2   # the wt_mean page's five


RACER = """
import subprocess, sys, time
from pathlib import Path
from cre_core.errors import CreError
from cre_core.train import jobs
from cre_core.train.config import TrainConfig
from cre_core.workspace import Workspace
jobs._spawn = lambda ws, folder, args: subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL,
                                                      start_new_session=True).pid
go = Path(sys.argv[2])
Path(sys.argv[3]).touch()
while not go.exists():
    time.sleep(0.001)
try:
    print("started", jobs.launch(Workspace(Path(sys.argv[1])), TrainConfig.of(model="mean", epochs=1)))
except CreError as exc:
    print("refused", exc)
"""


def test_two_processes_starting_at_once_share_the_last_slot(workspace_copy, tmp_path):
    from cre_core.atomic import read_json

    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CRE_MAX_JOBS": "1"}
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(workspace_copy.root), str(go), str(flag)],
                               env=env, stdout=subprocess.PIPE, text=True) for flag in ready]
    deadline = time.monotonic() + 60
    while not all(f.exists() for f in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()                                               # both imported and waiting: go
    outs = sorted(r.communicate(timeout=60)[0].strip() for r in racers)
    try:
        assert outs[0].startswith("refused 1 background job(s) already run") and outs[1].startswith("started")
        assert [p.name for p in workspace_copy.runs_dir.iterdir()] == [outs[1].split()[1]]
    finally:
        for folder in workspace_copy.runs_dir.iterdir():        # the sleep each started run stands for
            os.kill(read_json(folder / "status.json")["pid"], signal.SIGKILL)


def test_bad_job_cap_is_one_line(workspace_copy, monkeypatch):
    from cre_core.train import jobs
    from cre_core.train.config import TrainConfig

    monkeypatch.setenv("CRE_MAX_JOBS", "lots")
    with pytest.raises(CreError, match="CRE_MAX_JOBS must be a whole number of at least 1; got 'lots'"):
        jobs.launch(workspace_copy, TrainConfig.of(model="mean"))
    assert not workspace_copy.runs_dir.exists()


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("flag", ["--gff", "--obo", "--smf", "--sga", "--gaf", "--kuzmin", "--dcell-pairs"])
def test_ingest_refuses_dev_zero(flag, workspace_copy, capsys):
    assert_refused(capsys, workspace_copy, [flag, "/dev/zero"], r"/dev/zero: is not a regular file")


@pytest.mark.parametrize("flag", ["--smf", "--obo"])
def test_ingest_refuses_a_fifo_without_blocking(flag, workspace_copy, fifo, capsys):
    assert_refused(capsys, workspace_copy, [flag, fifo], r"pipe\.txt: is not a regular file")


def test_split_file_refuses_dev_zero_and_a_fifo(workspace_copy, fifo, capsys):
    from cre_core.train import jobs
    from cre_core.train.config import TrainConfig

    before = files_under(workspace_copy.root)
    for path in ("/dev/zero", str(fifo)):
        code, _, err = run_cli(capsys, "train", "--workspace", workspace_copy.root, "--model", "mean",
                               "--split-file", path)
        assert code == 2 and "is not a regular file" in err and "Traceback" not in err, err
        with pytest.raises(CreError, match="is not a regular file"):        # the Train form's launch
            jobs.launch(workspace_copy, TrainConfig.of(model="mean", split_file=path))
    after = files_under(workspace_copy.root)
    runs = [k for k in after if k.startswith("runs/")]
    assert {k: v for k, v in after.items() if not k.startswith("runs/")} == before
    assert not any(k.endswith("best.pt") for k in runs)


# --- K: corrupt stores are one line; advice and --force delete nothing foreign -------------------

@pytest.fixture
def truncated(workspace_copy) -> Workspace:
    with open(workspace_copy.db_path, "r+b") as fh:
        fh.truncate(300_000)                 # past the header: opens, then a block is missing
    return workspace_copy


@pytest.mark.parametrize("argv", [
    ["info"], ["embed", "--embedder", "kmer"], ["train", "--model", "mean", "--epochs", "1"],
    ["predict", "--run", "x", "--genes", "YAL001C"], ["scan", "--run", "x", "--gene", "YAL001C"],
])
def test_a_truncated_store_is_one_line(argv, truncated, capsys):
    before = files_under(truncated.root)
    code, out, err = run_cli(capsys, argv[0], "--workspace", truncated.root, *argv[1:])
    one_line_error(code, err, "is corrupt or truncated (300,000 bytes where its header lists ")
    assert "move it aside" in err and "_duckdb" not in err and out == ""
    assert files_under(truncated.root) == before


def test_demo_force_replaces_only_the_demos_files(truncated, capsys):
    ws = truncated
    (ws.root / "notes").mkdir()
    (ws.root / "notes" / "thesis.txt").write_text("three years of work\n")
    (ws.runs_dir / "old-run").mkdir(parents=True)
    (ws.runs_dir / "old-run" / "status.json").write_text('{"status": "done"}')
    (ws.raw_dir / "my_own.csv").write_text("mine\n")
    kept = {k: v for k, v in files_under(ws.root).items()
            if k.startswith(("notes/", "runs/", "embeddings/")) or k == "raw/my_own.csv"}
    code, _, err = run_cli(capsys, "demo", "--workspace", ws.root, "--preset", "tiny")
    one_line_error(code, err, "is not empty; pass --force to rebuild the demo's store and raw files there")
    code, _, err = run_cli(capsys, "demo", "--workspace", ws.root, "--preset", "tiny", "--force")
    assert code == 0, err
    after = files_under(ws.root)
    assert {k: after.get(k) for k in kept} == kept
    assert (ws.root / "notes" / "thesis.txt").read_text() == "three years of work\n"
    code, out, _ = run_cli(capsys, "info", "--workspace", ws.root)
    assert code == 0 and '"genes": 300' in out
    assert not [p for p in ws.root.parent.iterdir() if p.name.startswith(".ws.")]     # no staging left


def test_demo_force_never_replaces_a_store_of_other_data(workspace_copy, tmp_path, capsys):
    from tests.store_state import store_state

    ws = workspace_copy
    a, = smf_genes(ws, 1)
    run_cli(capsys, "ingest", "--workspace", ws.root, "--smf", smf_file_with(ws, tmp_path, a, 0.3))
    before, files = store_state(ws), files_under(ws.root)
    code, _, err = run_cli(capsys, "demo", "--workspace", ws.root, "--preset", "tiny", "--force")
    one_line_error(code, err, "holds ingested data that is not the demo's; --force replaces only a demo's store")
    assert store_state(ws) == before and files_under(ws.root) == files


# --- L: a new store appears complete or not at all ----------------------------------------------

def ingest_args(source: Workspace, root: Path) -> list[str]:
    raw = source.raw_dir
    return [sys.executable, "-m", "cre_core", "ingest", "--workspace", str(root),
            "--gff", str(raw / "saccharomyces_cerevisiae.gff"), "--smf", str(raw / SMF_NAME),
            *[a for f in sorted(raw.glob("SGA_*.txt")) for a in ("--sga", str(f))]]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_a_first_ingest_leaves_no_store(sig, tiny_workspace, tmp_path, capsys):
    root = tmp_path / "new"
    child = subprocess.Popen(ingest_args(tiny_workspace, root), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while not list(root.glob(".cre.duckdb.*.building")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(sig)
    child.wait(timeout=30)
    assert child.returncode != 0, "the ingest finished before it could be killed"
    assert not (root / "cre.duckdb").exists()
    code, _, err = run_cli(capsys, "info", "--workspace", root)
    one_line_error(code, err, f"no workspace at {root}")
    code, _, err = run_cli(capsys, "ingest", "--workspace", root, "--obo", tiny_workspace.raw_dir / "go-basic.obo")
    assert code == 0, err
    assert sorted(p.name for p in root.iterdir()) == ["cre.duckdb"]      # the killed build was cleared


def test_a_store_without_tables_is_never_a_catalog_error(tmp_path, capsys, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root = tmp_path / "empty"
    root.mkdir()
    duckdb.connect(str(root / "cre.duckdb")).close()          # what an older killed ingest left
    code, out, err = run_cli(capsys, "info", "--workspace", root)
    assert code == 0 and "Catalog" not in err and '"genes": 0' in out
    monkeypatch.setenv("CRE_WORKSPACE", str(root))
    for page in ("home.py", "datasets.py"):
        at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30)
        at.run(timeout=30)
        shown = " ".join(e.value for e in at.error)
        assert not at.exception and "Unexpected error" not in shown and "CatalogException" not in shown, shown


# --- SQL box: no paths, capped memory ------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "SELECT path FROM duckdb_databases", "SELECT * FROM duckdb_databases()", 'SELECT * FROM "DUCKDB_SETTINGS"()',
    "PRAGMA database_list", "SELECT current_setting('temp_directory')", "SELECT * FROM pragma_database_list",
    "SELECT install_path FROM duckdb_extensions()",
])
def test_sql_box_reveals_no_paths(sql, tiny_workspace):
    from cre_core.query.sql_box import SqlBoxError, run_readonly_sql

    with pytest.raises(SqlBoxError, match="is not available here: the SQL box shows the store's tables"):
        run_readonly_sql(str(tiny_workspace.db_path), sql)


def test_sql_box_catalog_views_show_no_path(tiny_workspace):
    from cre_core.query.sql_box import run_readonly_sql

    db = str(tiny_workspace.db_path)
    assert run_readonly_sql(db, "SELECT count(*) AS n FROM genes").frame["n"][0] == 300
    shown = run_readonly_sql(db, "SELECT * FROM duckdb_tables()").frame.astype(str).to_string()
    assert str(tiny_workspace.root) not in shown


# --- shared mode ---------------------------------------------------------------------------------

def test_shared_mode_pages_browse_and_query_only(tiny_workspace, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRE_WORKSPACE", str(tiny_workspace.root))
    monkeypatch.setenv("CRE_READONLY", "1")
    seen = {}
    for page in ("train.py", "datasets.py", "embeddings.py", "wt_stability.py", "home.py"):
        at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30)
        at.run(timeout=30)
        assert not at.exception, page
        seen[page] = ([b.label for b in at.button], " ".join(c.value for c in at.caption))
    assert "Start training" not in seen["train.py"][0]
    assert "Shared mode (CRE_READONLY=1): training" in seen["train.py"][1]
    assert "Run query" not in seen["datasets.py"][0] and "the SQL box is off" in seen["datasets.py"][1]
    assert "Compute" not in seen["embeddings.py"][0] and "computing embeddings is off" in seen["embeddings.py"][1]
    assert "Start the five runs" not in seen["wt_stability.py"][0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run(timeout=30)
    assert at.sidebar.text_input(key="workspace").disabled


def test_shared_mode_ignores_a_typed_workspace(tiny_workspace, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRE_WORKSPACE", str(tiny_workspace.root))
    monkeypatch.setenv("CRE_READONLY", "1")
    at = AppTest.from_file(str(ROOT / "pages" / "home.py"), default_timeout=30)
    at.session_state["workspace"] = str(tmp_path)
    at.run(timeout=30)
    assert any(str(tiny_workspace.root) in m.value for m in at.markdown)
