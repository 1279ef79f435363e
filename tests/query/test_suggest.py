"""Pairs to measure next (``cre suggest``, the Query page's Plan tab) with a tiny-demo ensemble."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cre_core import cli
from cre_core.errors import CreError
from cre_core.query import service
from cre_core.query.first_interactions import first_interactions, interaction_chance, order_pairs
from cre_core.query.spread import PER_GENE, POLICY, cap_per_gene
from cre_core.query.suggestions import score_pairs, suggest, unexplored_genes
from cre_core.train import saved_split
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.workspace import Workspace
from tests.app.test_pages import app, problems

ENSEMBLE = dict(model="deepset", embedder="id", epochs=2, batch_size=1024, hidden=16, gene_dim=16)


@pytest.fixture(scope="module")
def runs(tiny_workspace, tmp_path_factory):
    """The tiny demo with a 3-member ensemble and a single model."""
    root = tmp_path_factory.mktemp("suggest") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    ens = train_run(ws, TrainConfig.of(**ENSEMBLE, ensemble=3), echo=lambda m: None)["run_id"]
    single = train_run(ws, TrainConfig.of(**ENSEMBLE), echo=lambda m: None)["run_id"]
    return ws, ens, single


def measured_pairs(ws: Workspace) -> set[tuple[str, str]]:
    con = ws.connect(read_only=True)
    try:
        return {(a, b) for a, b in con.execute("SELECT gene_a, gene_b FROM dmf").fetchall()}
    finally:
        con.close()


def listed_genes(ws: Workspace, n: int) -> list[str]:
    con = ws.connect(read_only=True)
    try:
        return [g for (g,) in con.execute("SELECT gene FROM smf ORDER BY gene LIMIT ?", [n]).fetchall()]
    finally:
        con.close()


def test_list_ranks_every_unmeasured_pair_by_both_scores(runs):
    ws, ens, _ = runs
    genes = listed_genes(ws, 40)
    frame, info = suggest(ws, ens, genes=genes + [genes[0].lower()], per_gene=0,   # a repeat counts once
                          policy="rank")
    done = measured_pairs(ws)
    measured = sum((a, b) in done for i, a in enumerate(sorted(genes)) for b in sorted(genes)[i + 1:])
    assert measured > 0 and info["measured"] == measured and len(frame) == 40 * 39 // 2 - measured
    keys = set(zip(frame[["gene_a", "gene_b"]].min(axis=1), frame[["gene_a", "gene_b"]].max(axis=1)))
    assert not keys & done and len(keys) == len(frame)
    loaded = service.load_model(ws, ens)
    members = loaded.member_sets([[loaded.index[a], loaded.index[b]] for a, b in zip(frame["gene_a"], frame["gene_b"])])
    assert np.allclose(frame["predicted"], members.mean(0), atol=1e-6)
    assert np.allclose(frame["disagreement"], members.std(0, ddof=1), atol=1e-6)
    smf = dict(zip(loaded.genes, loaded.smf))
    assert np.allclose(frame["epsilon_pred"], frame["predicted"] - frame["gene_a"].map(smf) * frame["gene_b"].map(smf))
    assert np.allclose(frame["abs_epsilon"], frame["epsilon_pred"].abs())
    for score, rank in (("abs_epsilon", "rank_epsilon"), ("disagreement", "rank_disagreement")):
        ordered = frame.sort_values(rank)[score].to_numpy()
        assert (np.diff(ordered) <= 0).all() and sorted(frame[rank]) == list(range(1, len(frame) + 1))
    mean_rank = (frame["rank_epsilon"] + frame["rank_disagreement"]) / 2
    assert list(frame["rank"]) == list(range(1, len(frame) + 1)) and (np.diff(mean_rank.to_numpy()) >= 0).all()
    assert list(frame["rank_combined"]) == list(frame["rank"]) and info["policy"] == "rank"
    assert info["first_pairs"] == 0


def test_cap_per_gene_ranks_in_rounds():
    pairs = [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("E", "F"), ("B", "D")]
    frame = pd.DataFrame({"rank": range(1, 7), "gene_a": [a for a, _ in pairs], "gene_b": [b for _, b in pairs]})
    capped, deferred = cap_per_gene(frame, 1)
    # places among each gene's pairs: A-B 0/0, A-C 1/0, A-D 2/0, B-C 1/1, E-F 0/0, B-D 2/1
    assert list(zip(capped["gene_a"], capped["gene_b"])) == [("A", "B"), ("E", "F"), ("A", "C"), ("B", "C"),
                                                              ("A", "D"), ("B", "D")]
    assert deferred == 4 and list(capped["rank"]) == list(range(1, 7))
    capped, deferred = cap_per_gene(frame, 2)         # rounds 0, 0, 1, 0, 0, 1
    assert list(zip(capped["gene_a"], capped["gene_b"]))[:4] == [("A", "B"), ("A", "C"), ("B", "C"), ("E", "F")]
    assert deferred == 2
    assert cap_per_gene(frame, 0)[0] is frame


def test_interaction_chance_reads_the_interval_as_a_normal():
    # an 80% interval ±1.2816σ with σ = 0.08: ε̂ = 0 gives 2Φ(-1), ε̂ = 0.08 gives Φ(0) + Φ(-2)
    half = 1.2815516 * 0.08
    chance = interaction_chance(np.array([0.0, 0.08, -0.08, 0.0]), np.array([-half, 0.08 - half, -0.08 - half, np.nan]),
                                np.array([half, 0.08 + half, -0.08 + half, np.nan]), 0.8)
    assert np.allclose(chance[:3], [0.31731, 0.52275, 0.52275], atol=1e-5) and np.isnan(chance[3])


def plan_frame() -> pd.DataFrame:
    """Five candidate pairs, best combined rank first; A and B lack a strong training interaction."""
    pairs = [("C", "Y"), ("A", "Y"), ("A", "B"), ("B", "X"), ("A", "X")]
    return pd.DataFrame({"rank": range(1, 6), "rank_combined": range(1, 6), "gene_a": [a for a, _ in pairs],
                         "gene_b": [b for _, b in pairs], "p_interaction": [0.9, 0.2, 0.3, 0.4, 0.5]})


def test_first_interactions_discount_each_gene_by_its_likelier_pairs():
    frame = plan_frame()
    value = first_interactions(frame, {"A", "B"})
    # A's pairs by chance: A-X .5, A-B .3, A-Y .2; B's: B-X .4, A-B .3. C, X and Y are explored.
    # A-B: .3 x (1 - .5) for A + .3 x (1 - .4) for B; A-Y: .2 x (1 - .5)(1 - .3)
    assert np.allclose(value, [0.0, 0.07, 0.33, 0.4, 0.5])
    assert np.allclose(first_interactions(frame.assign(p_interaction=np.nan), {"A", "B"}), 0.0)
    assert np.allclose(first_interactions(frame, set()), 0.0)


def test_likely_first_interactions_come_first_then_the_combined_rank():
    frame = plan_frame()
    ordered, deferred = order_pairs(frame, "first-interactions", None, {"A", "B"})
    assert list(zip(ordered["gene_a"], ordered["gene_b"])) == [("A", "X"), ("B", "X"), ("A", "B"), ("A", "Y"),
                                                               ("C", "Y")]
    assert list(ordered["rank"]) == [1, 2, 3, 4, 5] and list(ordered["rank_combined"]) == [5, 4, 3, 2, 1]
    assert deferred == 0 and np.allclose(ordered["first_interactions"], [0.5, 0.4, 0.33, 0.07, 0.0])
    ties = frame.assign(p_interaction=[0.0, 0.5, 0.0, 0.5, 0.0])        # A-Y and B-X tie at 0.5
    ordered, _ = order_pairs(ties, "first-interactions", None, {"Y", "X"})
    assert list(ordered["rank_combined"]) == [2, 4, 1, 3, 5]            # the tie by combined rank; no chance: rest
    ranked, _ = order_pairs(frame, "rank", None, {"A", "B"})
    assert list(ranked["rank_combined"]) == [1, 2, 3, 4, 5]
    # the rest keeps the cap: with no unexplored gene, the order is the capped combined rank
    explored, deferred = order_pairs(frame, "first-interactions", 1, set())
    capped, expected = cap_per_gene(frame, 1)
    assert list(explored["rank_combined"]) == list(capped["rank_combined"]) and deferred == expected > 0
    with pytest.raises(ValueError, match="policy"):
        order_pairs(frame, "best", None, set())


def test_unexplored_genes_lack_a_strong_training_interaction(runs, tmp_path):
    ws, ens, _ = runs
    loaded = service.load_model(ws, ens)
    saved_split.export_saved(loaded.folder, tmp_path / "split.csv")
    split = pd.read_csv(tmp_path / "split.csv", sep="\t", keep_default_na=False)
    split = split[(split["gene_b"] != "") & (split.get("gene_c", "") == "")]            # pairs
    split = split.assign(gene_a=split[["gene_a", "gene_b"]].min(axis=1), gene_b=split[["gene_a", "gene_b"]].max(axis=1))
    con = ws.connect(read_only=True)
    try:
        dmf = con.execute("SELECT gene_a, gene_b, epsilon FROM dmf").df()
    finally:
        con.close()
    train = split[split["split"] == "train"].merge(dmf, on=["gene_a", "gene_b"])
    strong = train[train["epsilon"].abs() > 0.08]
    explored = set(strong["gene_a"]) | set(strong["gene_b"])
    unexplored = unexplored_genes(ws, loaded)
    assert unexplored == set(loaded.genes) - explored and len(unexplored) > 0 and len(explored) > 0


def test_gene_partners_in_the_first_interactions_order(runs):
    ws, ens, _ = runs
    gene = listed_genes(ws, 1)[0]
    frame, info = suggest(ws, ens, gene=gene, policy="first-interactions")
    assert info["policy"] == "first-interactions" and info["first_pairs"] > 0
    loaded = service.load_model(ws, ens)
    unexplored = unexplored_genes(ws, loaded)
    partners = set(frame["gene_b"])
    assert info["unexplored"] == len(unexplored & (partners | {gene}))
    first = frame.head(info["first_pairs"])
    assert (first["first_interactions"] > 0).all() and (np.diff(first["first_interactions"]) <= 0).all()
    assert (first["gene_b"].isin(unexplored) | (gene in unexplored)).all()
    rest = frame.iloc[info["first_pairs"]:]
    assert (rest["first_interactions"] == 0).all() and (np.diff(rest["rank_combined"]) > 0).all()
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    has_eps = frame["epsilon_pred"].notna()
    assert frame.loc[has_eps, "p_interaction"].between(0, 1).all() and frame.loc[~has_eps, "p_interaction"].isna().all()
    ranked, info = suggest(ws, ens, gene=gene)                          # the default: the combined rank
    assert POLICY == "rank" == info["policy"] and info["first_pairs"] == 0 and info["unexplored"] is None
    assert list(ranked["rank_combined"]) == list(range(1, len(ranked) + 1)) == list(ranked["rank"])
    assert set(ranked["gene_b"]) == partners
    with pytest.raises(CreError, match="unknown policy"):
        suggest(ws, ens, gene=gene, policy="best")


def test_list_is_capped_per_gene_by_default(runs):
    ws, ens, _ = runs
    genes = listed_genes(ws, 30)
    plain, _ = suggest(ws, ens, genes=genes, per_gene=0, policy="rank")
    frame, info = suggest(ws, ens, genes=genes, per_gene=3, policy="rank")
    assert info["per_gene"] == 3 and len(frame) == len(plain)
    key = list(zip(frame["gene_a"], frame["gene_b"]))
    assert set(key) == set(zip(plain["gene_a"], plain["gene_b"]))
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    seen: dict[str, int] = {}                        # the first round, rebuilt from the uncapped order
    first = []
    for a, b in zip(plain["gene_a"], plain["gene_b"]):
        if seen.get(a, 0) < 3 and seen.get(b, 0) < 3:
            first.append((a, b))
        seen[a], seen[b] = seen.get(a, 0) + 1, seen.get(b, 0) + 1
    assert key[:len(first)] == first and info["deferred"] == len(frame) - len(first) > 0
    slots = pd.Series([g for pair in first for g in pair]).value_counts()
    assert slots.max() <= 3 and plain.head(len(first)).pipe(
        lambda f: pd.concat([f["gene_a"], f["gene_b"]]).value_counts().max()) > 3
    _, info = suggest(ws, ens, genes=genes)
    assert info["per_gene"] == PER_GENE
    _, info = suggest(ws, ens, gene=genes[0], per_gene=3, policy="rank")
    assert info["per_gene"] is None and info["deferred"] == 0
    with pytest.raises(CreError, match="cap per gene"):
        suggest(ws, ens, genes=genes, per_gene=-1)


def test_partners_leave_out_measured_pairs(runs):
    ws, ens, _ = runs
    gene = listed_genes(ws, 1)[0]
    frame, info = suggest(ws, ens, gene=gene)
    loaded = service.load_model(ws, ens)
    partners = {b if a == gene else a for a, b in measured_pairs(ws) if gene in (a, b)}
    assert info["mode"] == "partners" and info["measured"] == len(partners) > 0
    assert len(frame) == len(set(loaded.genes) - partners - {gene}) and not set(frame["gene_b"]) & partners
    scan = service.scan(ws, ens, gene, top_k=None).set_index("partner")
    assert np.allclose(frame["predicted"], scan.loc[frame["gene_b"], "predicted"], atol=1e-6)


def test_single_models_and_bad_lists_are_refused(runs, capsys, tmp_path):
    ws, ens, single = runs
    with pytest.raises(CreError, match="single model"):
        suggest(ws, single, gene=listed_genes(ws, 1)[0])
    with pytest.raises(CreError, match="at least two"):
        suggest(ws, ens, genes=listed_genes(ws, 1) * 2)
    loaded = service.load_model(ws, ens)
    assert score_pairs(loaded, np.zeros((0, 2))).empty
    out = tmp_path / "plan.csv"
    first = listed_genes(ws, 1)[0]
    for args in (["--run", single, "--gene", first], ["--run", ens, "--genes", f"{first},NOSUCHGENE"],
                 ["--run", ens, "--genes-file", str(tmp_path / "missing.txt")]):
        assert cli.main(["suggest", "--workspace", str(ws.root), *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and not out.exists()


def test_cli_writes_every_ranked_pair(runs, capsys, tmp_path):
    ws, ens, _ = runs
    genes = listed_genes(ws, 12)
    listing = tmp_path / "genes.txt"
    listing.write_text("\n".join(genes) + "\n")
    out = tmp_path / "plan.csv"
    assert cli.main(["suggest", "--workspace", str(ws.root), "--run", ens, "--genes-file", str(listing),
                     "--top", "5", "--per-gene", "2", "--out", str(out)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = pd.read_csv(out)
    expected, info = suggest(ws, ens, genes=genes, per_gene=2)
    assert line["per_gene"] == 2 and line["deferred"] == info["deferred"] > 0
    assert line["candidates"] == info["candidates"] == len(written) and len(line["top"]) == 5
    assert list(written["gene_b"]) == list(expected["gene_b"]) and np.allclose(written["disagreement"],
                                                                                expected["disagreement"])
    assert [r["rank"] for r in line["top"]] == [1, 2, 3, 4, 5] and line["policy"] == "rank"
    genes = sorted(unexplored_genes(ws, service.load_model(ws, ens)))[:6] + genes[:6]    # the 12 are explored
    assert cli.main(["suggest", "--workspace", str(ws.root), "--run", ens, "--genes", ",".join(genes),
                     "--policy", "first-interactions", "--per-gene", "0", "--out", str(out)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = pd.read_csv(out)
    expected, info = suggest(ws, ens, genes=genes, per_gene=0, policy="first-interactions")
    assert line["policy"] == "first-interactions" and line["first_pairs"] == info["first_pairs"] > 0
    assert list(written["rank_combined"]) == list(expected["rank_combined"]) != sorted(expected["rank_combined"])
    assert (np.diff(written["first_interactions"].head(info["first_pairs"])) <= 0).all()


def test_plan_tab_shows_the_ranked_pairs(runs, monkeypatch):
    ws, ens, single = runs
    gene = listed_genes(ws, 1)[0]
    at = app("query.py", ws, monkeypatch).run()
    assert "Plan" in [t.label for t in at.tabs]
    at.selectbox(key="q_plan_run").set_value(ens)
    at.text_input(key="q_plan_gene").set_value(gene).run()
    assert not problems(at), problems(at)
    expected, info = suggest(ws, ens, gene=gene)
    shown = next(d.value for d in at.dataframe if "rank_disagreement" in d.value)
    assert list(shown["gene_b"]) == list(expected["gene_b"].head(25))
    assert np.allclose(shown["disagreement"], expected["disagreement"].head(25))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Unmeasured candidate pairs"] == f"{info['candidates']:,}"
    assert metrics["Measured pairs left out"] == f"{info['measured']:,}"
    assert any("disagreement" in c.proto.spec for c in at.get("vega_lite_chart"))
    at.radio(key="q_plan_mode").set_value("list").run()
    at.text_area(key="q_plan_genes").set_value("\n".join(listed_genes(ws, 6))).run()
    assert not problems(at), problems(at)
    expected, info = suggest(ws, ens, genes=listed_genes(ws, 6))
    shown = next(d.value for d in at.dataframe if "rank_disagreement" in d.value)
    assert len(shown) == info["candidates"] and list(shown["rank"]) == list(expected["rank"])
    at.number_input(key="q_plan_per_gene").set_value(1).run()
    assert not problems(at), problems(at)
    expected, info = suggest(ws, ens, genes=listed_genes(ws, 6), per_gene=1)
    shown = next(d.value for d in at.dataframe if "rank_disagreement" in d.value)
    assert list(zip(shown["gene_a"], shown["gene_b"])) == list(zip(expected["gene_a"], expected["gene_b"]))
    assert info["deferred"] > 0 and any(f"{info['deferred']:,} pairs rank after the first round" in c.value
                                        for c in at.caption)
    assert not any("pairs come first" in c.value for c in at.caption)
    explored = sorted(set(listed_genes(ws, 40)) - unexplored_genes(ws, service.load_model(ws, ens)))[:4]
    at.radio(key="q_plan_policy").set_value("first-interactions")
    at.text_area(key="q_plan_genes").set_value("\n".join(explored)).run()
    assert not problems(at), problems(at)
    assert suggest(ws, ens, genes=explored, per_gene=1, policy="first-interactions")[1]["unexplored"] == 0
    assert any("Every candidate gene already has a strong interaction" in c.value for c in at.caption)
    assert not any("pairs come first" in c.value for c in at.caption)
    genes = sorted(unexplored_genes(ws, service.load_model(ws, ens)))[:3] + listed_genes(ws, 3)
    at.radio(key="q_plan_policy").set_value("first-interactions")
    at.text_area(key="q_plan_genes").set_value("\n".join(genes)).run()
    assert not problems(at), problems(at)
    expected, info = suggest(ws, ens, genes=genes, per_gene=1, policy="first-interactions")
    shown = next(d.value for d in at.dataframe if "rank_disagreement" in d.value)
    assert list(zip(shown["gene_a"], shown["gene_b"])) == list(zip(expected["gene_a"], expected["gene_b"]))
    assert info["first_pairs"] > 0 and any(f"{info['first_pairs']:,} pairs come first" in c.value for c in at.caption)
