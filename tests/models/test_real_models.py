"""Every model on the real workspace: one short epoch through ``cre train``, then ``predict`` and ``scan``.

Each model trains once per module (on a copy of the session's real workspace with k-mer
embeddings), on a seeded subset of 300 strains, so the module stays short on 2 cores: what is
checked is that every model runs end to end on real shapes (6,579 genes with windows, ε for
124) and that its answers name real genes, not how well it predicts. Every model runs with its
default options besides the epoch and the subset: DCell builds its ontology over the 2019 GO
from the subset's training genes, the interaction model refits its pair ridge.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil

import pytest

from cre_core.cli import main as cre_main
from cre_core.workspace import Workspace

COMMON = ("--epochs", "1", "--subset", "300", "--batch-size", "64", "--eval-batch-size", "512", "--seed", "0")
MODELS = {
    "mean": (), "multiplicative": (), "deepset-id": ("--embedder", "id"), "deepset": (), "wt-anchored": (),
    "wt-diff": (), "interaction": (),
    "deepset-encoder": ("--embedder", "encoder", "--encoder-pretrain", "1", "--encoder-filters", "16"),
}
RAD51, RAD52 = "YER095W", "YML032C"


def run(*argv: str) -> dict:
    """``cre ARGV`` in this process; its last stdout line (the command's JSON result)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cre_main(list(argv))
    assert code == 0, (argv, out.getvalue()[-2000:])
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ws(real_workspace: Workspace, tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("real-models") / "ws"
    shutil.copytree(real_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    run("embed", "--workspace", str(root), "--embedder", "kmer")
    return Workspace(root)


@pytest.fixture(scope="module")
def smf(ws: Workspace) -> dict[str, float]:
    con = ws.connect(read_only=True)
    try:
        return dict(con.execute("SELECT gene, fitness FROM smf WHERE gene IN (?, ?)", [RAD51, RAD52]).fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def trained(ws: Workspace) -> dict[str, dict]:
    """One finished run per entry of MODELS: its summary."""
    runs = {}
    for label, extra in MODELS.items():
        model = label.split("-encoder")[0].split("-id")[0]
        runs[label] = run("train", "--workspace", str(ws.root), "--model", model, "--run-dir",
                          str(ws.root / "runs" / label), *COMMON, *extra)
    return runs


@pytest.mark.parametrize("label", list(MODELS))
def test_every_model_trains_and_predicts_real_genes(label, ws, trained, smf):
    summary = trained[label]
    assert summary["status"] == "done" and summary["epochs_run"] == 1
    assert summary["split_info"]["n_rows"] == 300 and summary["n_test"] > 0
    assert math.isfinite(summary["mse"])

    # standard names in any case resolve to the systematic ones; the null model is the SMF product
    answer = run("predict", "--workspace", str(ws.root), "--run", label, "--genes", "rad51,Rad52")
    assert answer["genes"] == [RAD51, RAD52] and answer["names"] == ["RAD51", "RAD52"]
    assert answer["multiplicative"] == pytest.approx(smf[RAD51] * smf[RAD52], rel=1e-5)
    assert math.isfinite(answer["predicted"])
    assert answer["epsilon_pred"] == pytest.approx(answer["predicted"] - answer["multiplicative"], abs=1e-6)


@pytest.mark.parametrize("label", ["deepset", "interaction"])
def test_scan_names_real_partners(label, ws, trained):
    found = run("scan", "--workspace", str(ws.root), "--run", label, "--gene", "RAD51", "--top", "5")
    assert found["gene"] == "RAD51"
    partners = found["partners"]
    assert len(partners) == 5
    predicted = [p["predicted"] for p in partners]
    assert predicted == sorted(predicted)                          # lowest fitness first
    con = ws.connect(read_only=True)
    try:
        names = dict(con.execute("SELECT gene, name FROM genes").fetchall())
    finally:
        con.close()
    assert all(p["partner"] in names and p["name"] == names[p["partner"]] for p in partners)
    assert RAD51 not in {p["partner"] for p in partners}


def test_dcell_trains_and_predicts_real_genes(ws, smf):
    summary = run("train", "--workspace", str(ws.root), "--model", "dcell",
                  "--run-dir", str(ws.root / "runs" / "dcell"), *COMMON)
    assert summary["status"] == "done" and summary["split_info"]["n_rows"] == 300
    answer = run("predict", "--workspace", str(ws.root), "--run", "dcell", "--genes", "RAD51,RAD52")
    assert answer["names"] == ["RAD51", "RAD52"] and math.isfinite(answer["predicted"])
    assert answer["multiplicative"] == pytest.approx(smf[RAD51] * smf[RAD52], rel=1e-5)
