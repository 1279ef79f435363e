"""The bad-input corpus for run folders and caches (issue 26 A, B, D, H, I, J, M and the low items):
a corrupt or foreign file is one line naming it, exit status 2 when it is the asked-for run, the
other runs still shown, and nothing changed; processes are signalled only when provably the run's
own; a run folder has one writer (two real processes); a run keeps its own split.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cre_core import runtime
from cre_core.cli import main
from cre_core.errors import CreError
from cre_core.processes import process_identity
from cre_core.train import jobs
from cre_core.train import runs as R
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.train.run_lock import RunLock
from cre_core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
GENE_ID = dict(model="deepset", embedder="id", epochs=1, seed=0)


def quiet(_msg: str) -> None:
    pass


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, err: str, pattern: str) -> None:
    """Exit 2 and exactly one line, no traceback, matching ``pattern``."""
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("error: "), err
    assert re.search(pattern, err), err


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (what "nothing changed" compares)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def page(script: str, ws: Workspace, monkeypatch) -> AppTest:
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    return AppTest.from_file(str(ROOT / "pages" / script), default_timeout=60)


def page_problems(at: AppTest) -> list[str]:
    return [e.value for e in at.exception] + [e.value for e in at.error]


@pytest.fixture(scope="module")
def embedded(tiny_workspace, tmp_path_factory) -> Workspace:
    """The tiny demo with its k-mer embedding cached (read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("embedded") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    assert main(["embed", "--workspace", str(root), "--embedder", "kmer"]) == 0
    return Workspace(root)


@pytest.fixture
def emb_copy(embedded, tmp_path) -> Workspace:
    shutil.copytree(embedded.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def trained(tiny_workspace, tmp_path_factory) -> tuple[Workspace, str]:
    """The tiny demo with one finished deepset run over learned gene vectors (read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("badruns") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    summary = train_run(ws, TrainConfig.of(**GENE_ID), echo=quiet)
    assert summary["status"] == "done"
    return ws, summary["run_id"]


@pytest.fixture
def ws_run(trained, tmp_path) -> tuple[Workspace, str]:
    """A private copy of ``trained``."""
    ws, run_id = trained
    shutil.copytree(ws.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws"), run_id


def second_run(ws: Workspace, run_id: str, name: str = "zz-second") -> Path:
    """A copy of the trained run under another id (two runs; one will be damaged)."""
    copy = ws.runs_dir / name
    shutil.copytree(ws.runs_dir / run_id, copy)
    return copy


# --- A: a process is signalled only when it is provably the run's own ----------------------------

@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def running_run(ws: Workspace, name: str, **identity) -> Path:
    folder = ws.runs_dir / name
    folder.mkdir(parents=True)
    R.write_status(folder, "running", created=time.time(), **identity)
    (folder / "config.json").write_text(json.dumps(TrainConfig.of(**GENE_ID).to_dict()))
    return folder


@pytest.mark.parametrize("forged, reason", [
    ({"host": "node17"}, r"runs on host 'node17', not on this one"),
    ({"pid_start": None}, r"no start time was recorded"),
    ({"pid_start": "1"}, None),                 # a reused pid: the run reads as interrupted, no Stop
    ({"boot": "another-boot"}, None),           # started before a reboot: likewise
])
def test_stop_never_signals_a_process_it_cannot_prove_is_the_run(forged, reason, sleeper, tmp_path):
    ws = Workspace(tmp_path / "ws")
    folder = running_run(ws, "r1", **{**process_identity(sleeper.pid), **forged})
    before = files_of(folder)
    if reason is None:
        assert R.load_run(ws, "r1")["status"] == "interrupted"
        jobs.stop(ws, "r1")                                # nothing to stop
    else:
        assert R.load_run(ws, "r1")["status"] == "running"     # another host cannot be checked
        with pytest.raises(CreError, match=f"not signalling process {sleeper.pid}: .*{reason}"):
            jobs.stop(ws, "r1")
    time.sleep(0.2)
    assert sleeper.poll() is None                          # the unrelated process lives
    assert files_of(folder) == before


def test_stop_signals_the_runs_own_process(sleeper, tmp_path):
    ws = Workspace(tmp_path / "ws")
    running_run(ws, "r1", **process_identity(sleeper.pid))
    jobs.stop(ws, "r1")
    assert sleeper.wait(timeout=10) == -signal.SIGTERM


def test_train_page_stop_on_a_foreign_host_run_says_why_and_signals_nothing(ws_run, sleeper, monkeypatch):
    ws, _ = ws_run
    running_run(ws, "zz-foreign", **{**process_identity(sleeper.pid), "host": "node17"})
    at = page("train.py", ws, monkeypatch)
    at.session_state["train_run"] = "zz-foreign"
    at.run()
    at.button(key="stop_zz-foreign").click().run()
    assert any("not signalling process" in e.value and "node17" in e.value for e in at.error)
    assert not at.exception
    assert sleeper.poll() is None


# --- B: one writer per run folder ----------------------------------------------------------------

def test_two_train_processes_on_one_run_dir_one_is_refused(ws_run, tmp_path):
    ws, _ = ws_run
    run_dir = tmp_path / "shared-run"
    common = [sys.executable, "-m", "cre_core", "train", "--workspace", str(ws.root), "--run-dir", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([*common, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for args in (["--model", "deepset", "--embedder", "id", "--epochs", "3"], ["--model", "mean"])]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (won,) = [out for code, out, _ in results if code == 0]
    (lost_err,) = [err for code, _, err in results if code == 2]
    assert lost_err.count("\n") == 1 and "Traceback" not in lost_err, lost_err
    # the loser names the holder once its identity is written; in the instant before, "another process"
    assert re.search(r"is in use by (process \d+ on host|another process)|already holds a trained run",
                     lost_err), lost_err
    winner = json.loads(won.strip().splitlines()[-1])
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert config["model"] == summary["model"] == winner["model"]        # never a mix of the two
    assert (run_dir / "run.lock").read_text() == ""                      # released


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from cre_core.train.run_lock import RunLock; "
         "RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(CreError, match=f"is in use by process {holder.pid} on host"):
        RunLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    lock = RunLock(tmp_path)
    lock.acquire()                                        # stale: its holder is dead
    assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_a_lock_of_another_host_is_refused_with_advice(tmp_path):
    (tmp_path / "run.lock").write_text(json.dumps({"pid": 4242, "host": "node17", "pid_start": "9"}))
    advice = r"held by process 4242 on host node17 .*if that run is gone, remove .*run\.lock"
    with pytest.raises(CreError, match=advice):
        RunLock(tmp_path).acquire()
    assert json.loads((tmp_path / "run.lock").read_text())["host"] == "node17"


# --- D: a run keeps its own split ----------------------------------------------------------------

def drop_pairs(ws: Workspace, fraction: float = 0.4) -> None:
    """A re-ingest that loses pairs (as --exclude-alleles does): delete a share of dmf."""
    con = ws.connect(read_only=False)
    try:
        con.execute(f"DELETE FROM dmf WHERE hash(gene_a || gene_b) % 100 < {int(fraction * 100)}")
    finally:
        con.close()


def test_a_run_uses_its_saved_split_after_the_store_changes(ws_run, tmp_path, capsys):
    from cre_core.query import service
    from cre_core.train import data as D

    ws, run_id = ws_run
    folder = ws.runs_dir / run_id
    state = json.loads((folder / "split.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    assert (state["n_train"], state["n_val"], state["n_test"]) == (summary["n_train"], summary["n_val"],
                                                                   summary["n_test"])
    assert state["store"]["sources"]                            # the store it saw
    export = ["runs", "--workspace", ws.root, "--export-split", run_id, "--out"]
    code, _, err = cli(capsys, *export, tmp_path / "before.tsv")
    assert code == 0, err
    rows = [line.split("\t") for line in (tmp_path / "before.tsv").read_text().splitlines()[1:]]
    gene = rows[0][0]
    trained_on = sum(gene in row[:-1] for row in rows if row[-1] == "train")

    drop_pairs(ws)
    config = TrainConfig.load(folder / "config.json")
    _, now = D.training_rows(ws, config)
    assert len(now.train) < state["n_train"]                    # the store lost pairs
    code, out, err = cli(capsys, *export, tmp_path / "s.tsv")
    assert code == 0 and err == ""
    assert json.loads(out)["train"] == state["n_train"] and json.loads(out)["test"] == state["n_test"]
    assert (tmp_path / "s.tsv").read_bytes() == (tmp_path / "before.tsv").read_bytes()
    service.clear_cache()
    result = service.predict(ws, run_id, [gene])
    assert result["train_counts"] == [trained_on] and result["split_saved"]


def test_resume_after_the_store_changed_is_refused_and_changes_nothing(ws_run, capsys):
    ws, run_id = ws_run
    folder = ws.runs_dir / run_id
    drop_pairs(ws)
    before = files_of(folder)
    code, _, err = cli(capsys, "train", "--workspace", ws.root, "--run-dir", folder, "--resume", "--epochs", "2")
    refused(code, err, rf"the store changed since run {run_id} started: its train part was")
    after = files_of(folder)
    assert after.pop("run.lock") == b"" and before.pop("run.lock") == b""
    assert after == before


def test_an_old_run_without_a_saved_split_still_exports_and_says_so(ws_run, tmp_path, capsys):
    ws, run_id = ws_run
    for name in ("split.npz", "split.json"):
        (ws.runs_dir / run_id / name).unlink()
    code, out, err = cli(capsys, "runs", "--workspace", ws.root, "--export-split", run_id, "--out", tmp_path / "s.tsv")
    assert code == 0 and json.loads(out)["train"] > 0
    assert err == f"warning: run {run_id} made before runs saved their split: rebuilt from the current store, " \
                  "which must still hold its strains\n"


# --- H: one corrupt run never hides the others ---------------------------------------------------

CORRUPT = {
    "truncated summary": ("summary.json", lambda t: t[: len(t) // 2], r"summary\.json cannot be read"),
    "summary is a list": ("summary.json", lambda t: "[1, 2]", r"summary\.json: expected a JSON object, found list"),
    "pearson is text": ("summary.json", lambda t: json.dumps({**json.loads(t), "pearson": "high"}),
                        r"summary\.json: 'pearson' is 'high', expected a number"),
    "created is a date string": ("status.json", lambda t: json.dumps({**json.loads(t), "created": "yesterday"}),
                                 r"status\.json: 'created' is 'yesterday', expected a number"),
    "unknown status": ("status.json", lambda t: json.dumps({**json.loads(t), "status": "zombie"}),
                       r"status\.json: unknown status 'zombie'"),
    "config is a string": ("config.json", lambda t: '"gene-id"', r"config\.json: expected a JSON object, found str"),
    "by_size is text": ("summary.json", lambda t: json.dumps({**json.loads(t), "by_size": {"2": {"pearson": "x"}}}),
                        r"summary\.json: 'by_size\.2\.pearson' is 'x', expected a number"),
}


@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_a_corrupt_run_is_listed_unreadable_and_the_others_shown(case, ws_run, tmp_path, capsys):
    ws, run_id = ws_run
    name, damage, message = CORRUPT[case]
    bad = second_run(ws, run_id)
    (bad / name).write_text(damage((bad / name).read_text()))
    code, out, err = cli(capsys, "runs", "--workspace", ws.root)
    assert code == 0 and err == ""
    rows = {r["run_id"]: r for r in map(json.loads, out.splitlines())}
    assert rows[run_id]["status"] == "done" and rows[run_id]["problem"] is None
    assert rows[bad.name]["status"] == "unreadable" and re.search(message, rows[bad.name]["problem"])
    code, _, err = cli(capsys, "runs", "--workspace", ws.root, "--export-split", bad.name, "--out", tmp_path / "s.tsv")
    refused(code, err, message)
    assert not (tmp_path / "s.tsv").exists()


@pytest.mark.parametrize("script", ["home.py", "train.py", "wt_stability.py", "results.py", "query.py"])
def test_pages_list_a_corrupt_run_and_show_the_rest(script, ws_run, monkeypatch):
    ws, run_id = ws_run
    bad = second_run(ws, run_id)
    (bad / "summary.json").write_text('{"pearson": 0.')
    at = page(script, ws, monkeypatch).run()
    assert not page_problems(at), page_problems(at)
    if script in ("results.py", "query.py", "wt_stability.py"):
        assert any("cannot be read" in w.value for w in at.warning)
    if script == "results.py":
        assert list(at.dataframe[1].value["run"].str.split(" ").str[0]) == [run_id]
    if script == "train.py":
        runs = at.dataframe[0].value.set_index("run_id")
        assert runs.loc[bad.name, "status"] == "unreadable" and runs.loc[run_id, "status"] == "done"


# --- I: unreadable checkpoints -------------------------------------------------------------------

BROKEN_PT = {
    "truncated": lambda data: data[: len(data) // 3],
    "random bytes": lambda data: np.random.default_rng(0).bytes(4096),
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("kind", BROKEN_PT, ids=list(BROKEN_PT))
def test_predict_and_scan_refuse_a_broken_checkpoint_in_one_line(kind, ws_run, capsys):
    from cre_core.query import service

    ws, run_id = ws_run
    best = ws.runs_dir / run_id / "checkpoints" / "best.pt"
    best.write_bytes(BROKEN_PT[kind](best.read_bytes()))
    service.clear_cache()
    what = "is empty" if kind == "empty" else "is truncated or not a checkpoint"
    (gene,) = query_genes(ws)
    code, out, err = cli(capsys, "predict", "--workspace", ws.root, "--run", run_id, "--genes", gene)
    refused(code, err, rf"best\.pt {what}")
    assert out == ""
    code, _, err = cli(capsys, "scan", "--workspace", ws.root, "--run", run_id, "--gene", gene)
    refused(code, err, rf"best\.pt {what}")


def query_genes(ws: Workspace) -> list[str]:
    con = ws.connect(read_only=True)
    try:
        return [g for (g,) in con.execute("SELECT gene_a FROM dmf ORDER BY gene_a LIMIT 1 ").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("damage", ["truncated model", "gene outside one run's vocabulary"])
def test_query_page_shows_the_good_runs_beside_a_bad_one(damage, ws_run, monkeypatch):
    from cre_core.query import service

    ws, run_id = ws_run
    bad = second_run(ws, run_id)
    best = bad / "checkpoints" / "best.pt"
    (gene,) = query_genes(ws)
    if damage == "truncated model":
        best.write_bytes(best.read_bytes()[:1000])
    else:
        ckpt = torch.load(best, weights_only=True)
        ckpt["meta"]["genes"] = [g if g != gene else "YXX000X" for g in ckpt["meta"]["genes"]]
        torch.save(ckpt, best)
    service.clear_cache()
    at = page("query.py", ws, monkeypatch).run()
    assert set(at.multiselect(key="q_runs").value) == {run_id, bad.name}
    at.text_input(key="q_genes").set_value(gene).run()
    assert not page_problems(at), page_problems(at)
    assert list(at.dataframe[-1].value["run"].str.split(" ").str[0]) == [run_id]
    shown = at.dataframe[-2].value["problem"].tolist()
    assert len(shown) == 1 and shown[0].startswith(f"run {bad.name}: ")


def test_resume_on_a_truncated_last_checkpoint_is_one_line_and_changes_nothing(ws_run, capsys):
    ws, run_id = ws_run
    folder = ws.runs_dir / run_id
    last = folder / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:500])
    before = files_of(folder)
    code, _, err = cli(capsys, "train", "--workspace", ws.root, "--run-dir", folder, "--resume")
    refused(code, err, r"last\.pt is truncated or not a checkpoint")
    assert files_of(folder) == before


# --- J: bad predictions and caches affect only themselves ------------------------------------------

def test_results_page_leaves_out_only_the_run_with_bad_predictions(ws_run, monkeypatch):
    ws, run_id = ws_run
    bad = second_run(ws, run_id)
    (bad / "predictions.parquet").write_bytes(b"PAR1 not really")
    at = page("results.py", ws, monkeypatch).run()
    assert not page_problems(at), page_problems(at)
    assert len(at.get("download_button")) == 1
    problems = [df.value for df in at.dataframe if "problem" in df.value]
    assert len(problems) == 1 and problems[0]["problem"].str.startswith(f"run {bad.name}: ").all()
    assert len(at.get("vega_lite_chart")) >= 4                 # bars ×2, box plots, scatter (and curves)


def truncated_umap(ws: Workspace) -> Path:
    from cre_core.embed.umap_view import umap_input

    path = umap_input(ws, "kmer", "both", 0, None, 15, 0.1)[3]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1\x00\x01")
    return path


def test_umap_refuses_a_truncated_cache_in_one_line(emb_copy, capsys):
    path = truncated_umap(emb_copy)
    code, out, err = cli(capsys, "umap", "--workspace", emb_copy.root)
    refused(code, err, rf"the cached UMAP {re.escape(str(path))} cannot be read")
    assert out == "" and path.read_bytes() == b"PAR1\x00\x01"


def test_embeddings_page_keeps_its_compute_form_beside_a_truncated_umap(emb_copy, monkeypatch):
    truncated_umap(emb_copy)
    at = page("embeddings.py", emb_copy, monkeypatch).run()
    assert not page_problems(at), page_problems(at)
    assert any("cannot be read; Compute replaces it" in w.value for w in at.warning)
    assert at.button(key="emb_umap_go")


# --- M: a stop request ends long phases, resumable -----------------------------------------------

def test_sigterm_inside_the_stop_scope_is_a_request_not_a_kill():
    before = signal.getsignal(signal.SIGTERM)
    with runtime.stop_on_signals():
        with runtime.stop_on_signals():                   # an ensemble's member nests in its run
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert runtime.stop_requested()
            with pytest.raises(runtime.StopRequested):
                runtime.check_stop()
        assert runtime.stop_requested()                   # still asked for in the outer phase
    assert not runtime.stop_requested() and signal.getsignal(signal.SIGTERM) == before


def test_stop_inside_encoder_pretraining_ends_interrupted_and_resumes(workspace_copy, monkeypatch):
    from cre_core.train import loop

    cfg = TrainConfig.of(model="deepset", embedder="encoder", split="gene", epochs=1, subset=3000,
                      encoder_filters=6, encoder_width=12, hidden=16, batch_size=1024, encoder_pretrain=50)
    step = loop.Engine.train_step

    def stop_after_three(self, *args, **kwargs):
        out = step(self, *args, **kwargs)
        if self.step == 3:
            runtime.request_stop()          # what SIGTERM does
        return out

    monkeypatch.setattr(loop.Engine, "train_step", stop_after_three)
    first = train_run(workspace_copy, cfg, echo=quiet)
    assert first["status"] == "interrupted" and not runtime.stop_requested()
    folder = Path(first["run_dir"])
    assert R.load_run(workspace_copy, folder.name)["status"] == "interrupted"
    assert torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["step"] == 3   # not 50 epochs later
    monkeypatch.setattr(loop.Engine, "train_step", step)
    again = train_run(workspace_copy, TrainConfig.from_dict({**cfg.to_dict(), "encoder_pretrain": 1}),
                      folder, resume=True, echo=quiet)
    assert again["status"] == "done"


@pytest.mark.slow          # two pair-ridge refits on the tiny demo's k-mer features (minutes on 2 cores)
def test_stop_in_the_pair_ridge_ends_interrupted_and_resume_refits_without_training_again(emb_copy, monkeypatch):
    from cre_core.train import loop

    real, calls = loop.refit, []

    def refit_then_stop(*args, **kwargs):
        calls.append(1)
        fit = real(*args, **kwargs)
        if len(calls) == 1:
            runtime.request_stop()          # SIGTERM while the ridge ran
        return fit

    monkeypatch.setattr(loop, "refit", refit_then_stop)
    cfg = TrainConfig.of(model="interaction", epochs=2, rank=4, hidden=16, batch_size=256, patience=5)
    first = train_run(emb_copy, cfg, echo=quiet)
    assert first["status"] == "interrupted" and len(calls) == 1
    run_id = first["run_id"]
    assert R.load_run(emb_copy, run_id)["status"] == "interrupted"
    epochs = R.read_epoch_metrics(emb_copy, run_id)["epoch"].tolist()
    again = train_run(emb_copy, cfg, Path(first["run_dir"]), resume=True, echo=quiet)
    assert again["status"] == "done" and len(calls) == 2 and "pair_ridge" in again
    assert R.read_epoch_metrics(emb_copy, run_id)["epoch"].tolist() == epochs      # no epoch trained twice


def test_stop_between_ensemble_members(ws_run):
    from cre_core.train.ensemble import train_ensemble

    ws, _ = ws_run
    calls = []

    def member_then_stop(*args, **kwargs):
        calls.append(args[2])
        summary = train_run(*args, **kwargs)
        runtime.request_stop()
        return summary

    cfg = TrainConfig.of(model="deepset", embedder="id", epochs=1, ensemble=3)
    out = train_ensemble(ws, cfg, None, False, quiet, member_then_stop)
    assert out["status"] == "interrupted" and len(calls) == 1 and not runtime.stop_requested()
    status = R.read_json(Path(out["run_dir"]) / "status.json")
    assert status["status"] == "interrupted" and status["message"].startswith("stopped before member 2/3")


def test_stop_between_embedding_batches(emb_copy, capsys):
    shutil.rmtree(emb_copy.embeddings_dir / "random", ignore_errors=True)
    runtime.request_stop()
    code, out, err = cli(capsys, "embed", "--workspace", emb_copy.root, "--embedder", "random")
    assert code == 2 and "Traceback" not in err                 # (progress bars go to stderr too)
    assert err.splitlines()[-1] == "error: embed stopped by signal: the regions finished are cached; " \
                                   "run it again to compute what is left"
    assert not runtime.stop_requested()
    assert not (emb_copy.embeddings_dir / "random").exists() or not list(
        (emb_copy.embeddings_dir / "random").rglob("*.parquet"))


# --- low items -----------------------------------------------------------------------------------

def test_embed_removes_temporary_files_of_a_killed_write(emb_copy, capsys):
    from cre_core.embed.cache import cache_files

    folder = cache_files(emb_copy)[0].parent
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    tmp = folder / f".upstream.parquet.{dead}.0a1b2c3d.tmp"
    tmp.write_bytes(b"half a file")
    embedder = folder.parent.name
    code, _, err = cli(capsys, "embed", "--workspace", emb_copy.root, "--embedder", embedder)
    assert code == 0, err
    assert not tmp.exists()


def test_a_jsonl_line_that_is_not_an_object_is_left_out_and_flagged(ws_run, monkeypatch):
    ws, run_id = ws_run
    with open(ws.runs_dir / run_id / "epochs.jsonl", "a") as f:
        f.write('[1, 2]\n"text"\n')
    frame = R.read_epoch_metrics(ws, run_id)
    assert list(frame["epoch"]) == [1] and len(frame.attrs["skipped_lines"]) == 2
    at = page("results.py", ws, monkeypatch).run()
    assert not page_problems(at), page_problems(at)
    assert any("epochs.jsonl line" in " ".join(df.value.get("problem", [])) for df in at.dataframe)


def test_a_truncated_embedding_cache_is_listed_unreadable_and_counted_alike(emb_copy, monkeypatch):
    from cre_core.embed.cache import cache_files
    from cre_core.embed.features import list_embeddings
    from cre_core.overview import overview

    files = cache_files(emb_copy)
    files[0].write_bytes(files[0].read_bytes()[:200])
    info = overview(emb_copy)
    assert len(info.embeddings) == len(list_embeddings(emb_copy)) == len(files) - 1
    assert info.unreadable_embeddings == [str(files[0].relative_to(emb_copy.embeddings_dir))]
    at = page("embeddings.py", emb_copy, monkeypatch).run()
    assert not page_problems(at), page_problems(at)
    (table,) = [df.value for df in at.dataframe if "problem" in df.value]
    assert table["file"].tolist() == info.unreadable_embeddings
    assert table["problem"].str.contains("truncated or not Parquet").all()


def test_predict_refuses_more_genes_than_the_page_allows(ws_run, capsys):
    from cre_core.query.gene_sets import MAX_SET_SIZE

    ws, run_id = ws_run
    genes = ",".join(f"G{i}" for i in range(MAX_SET_SIZE + 1))
    code, out, err = cli(capsys, "predict", "--workspace", ws.root, "--run", run_id, "--genes", genes)
    refused(code, err, rf"{MAX_SET_SIZE + 1} genes in one set \(.*\): at most {MAX_SET_SIZE} per set")
    assert out == ""


def test_a_run_of_another_workspace_is_refused(ws_run, tmp_path, capsys):
    ws, run_id = ws_run
    other = tmp_path / "other_ws"
    shutil.copytree(ws.root, other)
    foreign = os.path.relpath(other / "runs" / run_id)
    (gene,) = query_genes(ws)
    for argv in (["predict", "--genes", gene, "--run", foreign], ["scan", "--gene", gene, "--run", foreign],
                 ["predict", "--genes", gene, "--run", f"../../{other.name}/runs/{run_id}"]):
        code, _, err = cli(capsys, argv[0], "--workspace", ws.root, *argv[1:])
        refused(code, err, r"is not a run folder of this workspace .*: a run is used only with the store")

