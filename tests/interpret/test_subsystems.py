"""DCell subsystem explanations (``cre explain-dcell``, the Query page's DCell tab) on a trained tiny demo run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cre_core import cli
from cre_core.demo import files as demo_files
from cre_core.demo.generate import demo_world
from cre_core.interpret.subsystems import explain_genotype, subtree
from cre_core.query import service
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.workspace import Workspace
from tests.app.test_pages import app, problems

# a short run: the tiny demo's 2,000-pair subset, 2 epochs (the bench trains longer: bench/subsystems.py)
DCELL = dict(model="dcell", subset=2000, epochs=2, batch_size=128, lr=3e-3)


@pytest.fixture(scope="module")
def dcell_run(tiny_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("dcell") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    return ws, train_run(ws, TrainConfig.of(**DCELL), echo=lambda m: None)["run_id"]


def module_pairs(ws: Workspace, run_id: str) -> list[tuple[str, str, str]]:
    """One within-module pair per planted module whose genes the GAF puts in the module's term."""
    world = demo_world("tiny", 0)
    terms = demo_files.Ontology(world).module
    loaded = service.load_model(ws, run_id)
    onto = loaded.model.ontology
    gene_sets = onto.gene_sets()
    where = {g: i for i, g in enumerate(world.names)}
    out = []
    for module, term in enumerate(terms):
        if term in onto.terms:
            genes = sorted(g for g in loaded.genes if world.module[where[g]] == module
                           and loaded.index[g] in gene_sets[onto.terms.index(term)])
            if len(genes) >= 2:
                out.append((genes[0], genes[-1], term))
    return out


def test_within_module_pairs_rank_their_module_term_in_the_top_3(dcell_run):
    ws, run = dcell_run
    pairs = module_pairs(ws, run)
    assert len(pairs) >= 8
    ranks = []
    for a, b, term in pairs:
        terms = explain_genotype(ws, run, [a, b]).terms
        ranks.append(int(terms.loc[terms["term"] == term, "rank"].iloc[0]))
    assert np.mean(np.array(ranks) <= 3) >= 0.75, ranks


def test_scores_follow_the_ontology(dcell_run):
    ws, run = dcell_run
    a, b, term = module_pairs(ws, run)[0]
    result = explain_genotype(ws, run, [a, b])
    terms = result.terms.set_index("term")
    loaded = service.load_model(ws, run)
    onto = loaded.model.ontology
    gene_sets = onto.gene_sets()
    ia, ib = loaded.index[a], loaded.index[b]
    for t, genes in zip(onto.terms, gene_sets):
        row = terms.loc[t]
        hit = (ia in genes) + (ib in genes)
        assert row["genes_hit"].count(",") + bool(row["genes_hit"]) == hit
        if hit == 0:             # untouched terms see the wild type's input
            assert row["state_change"] == 0 and row["head_change"] == 0 and not row["moved"]
        if hit == 1:             # one gene alone explains the change
            assert row["interaction_change"] < 1e-5 and row["state_change"] > 0
    assert terms.loc[term, "interaction_change"] > 0 and terms.loc[term, "genes_hit"].count(",") == 1
    assert result.by == "interaction" and list(result.terms["rank"]) == list(range(1, len(terms) + 1))
    predicted = service.predict(ws, run, [a, b])["predicted"]
    assert result.predicted == pytest.approx(predicted, abs=1e-5)     # the Query tab's prediction
    single = explain_genotype(ws, run, [a])
    assert single.by == "state" and single.terms["interaction_change"].isna().all()
    assert single.terms.iloc[0]["state_change"] == single.terms["state_change"].max()


def test_subtree_is_an_icicle_of_the_top_terms_and_their_ancestors(dcell_run):
    ws, run = dcell_run
    a, b, _ = module_pairs(ws, run)[1]
    result = explain_genotype(ws, run, [a, b])
    tree = subtree(result, 6).set_index("term")
    top = result.terms[result.terms["moved"]]["term"].head(6)
    assert set(top) <= set(tree.index) and tree["in_top"].sum() == len(top)
    root = tree[tree["parent"].isna()]
    assert len(root) == 1 and root["depth"].iloc[0] == 0 and (root["x0"].iloc[0], root["x1"].iloc[0]) == (0, 1)
    for _, row in tree.iterrows():
        if row["parent"] is not None and row["parent"] == row["parent"]:
            up = tree.loc[row["parent"]]
            assert row["depth"] == up["depth"] + 1 and up["x0"] <= row["x0"] < row["x1"] <= up["x1"]
    children = tree.groupby("parent")["x1"].max()
    assert all(children[p] == pytest.approx(tree.loc[p, "x1"]) for p in children.index)


def test_cli_explain_dcell(dcell_run, capsys):
    ws, run = dcell_run
    a, b, term = module_pairs(ws, run)[0]
    assert cli.main(["explain-dcell", "--workspace", str(ws.root), "--run", run, "--genes", f"{a},{b}",
                     "--top", "4"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = explain_genotype(ws, run, [a, b])
    assert [t["term"] for t in out["terms"]] == list(expected.terms["term"].head(4))
    assert out["n_terms"] == len(expected.terms) and out["tree"][0]["depth"] == 0
    assert cli.main(["explain-dcell", "--workspace", str(ws.root), "--run", run, "--genes", a, "--tsv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(expected.terms) and lines[0].startswith("rank\tterm\tname")
    for bad in (f"{a},NOSUCHGENE", f"{a},{b},{a}", f"{a},{b},{term[3:]},YAL001W"):
        assert cli.main(["explain-dcell", "--workspace", str(ws.root), "--run", run, "--genes", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err


def test_query_page_draws_the_explanation(dcell_run, monkeypatch):
    ws, run = dcell_run
    a, b, term = module_pairs(ws, run)[0]
    at = app("query.py", ws, monkeypatch).run()
    assert "Subsystems (DCell)" in [t.label for t in at.tabs]
    at.text_input(key="q_dc_genes").set_value(f"{a}, {b}").run()
    assert not problems(at), problems(at)
    expected = explain_genotype(ws, run, [a, b]).terms
    shown = next(d.value for d in at.dataframe if "interaction_change" in d.value)
    top = expected[expected["moved"]].head(15)
    assert list(shown["term"]) == list(top["term"])
    assert np.allclose(shown["interaction_change"], top["interaction_change"])
    assert term in list(shown["term"].head(3))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Terms that move"] == f"{int(expected['moved'].sum()):,} of {len(expected):,}"
    spec = next(c.proto.spec for c in at.get("vega_lite_chart") if "interaction_change" in c.proto.spec)
    assert '"rect"' in spec and '"x0"' in spec and '"depth"' in spec         # the icicle
