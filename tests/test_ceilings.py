"""Noise ceilings: split-half replicate ceiling on a constructed store, demo truth ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cre_core.data.ceilings import replicate_ceiling, truth_ceiling
from cre_core.data.demo import demo_world
from cre_core.data.demo_world import expected_pair_epsilon, pair_epsilon
from cre_core.data.store import create_schema
from cre_core.workspace import Workspace


def _sga_rows(n_pairs: int, reps: int, fit_noise: float, eps_noise: float,
              rng: np.random.Generator, kind: str = "dma", first: int = 0) -> pd.DataFrame:
    """``reps`` repeats of ``n_pairs`` genotypes: true values N(0, 1) plus noise."""
    true_f, true_e = rng.normal(size=n_pairs), rng.normal(size=n_pairs)
    out = []
    for r in range(reps):
        q = [f"Q{i:05d}" for i in range(first, first + n_pairs)]
        a = [f"A{i:05d}" for i in range(first, first + n_pairs)]
        if r % 2:                                   # the other orientation
            q, a = a, q
        out.append(pd.DataFrame({
            "source": "SGA_test.txt", "query_strain": [f"{g}_sn1" for g in q],
            "array_strain": [f"{g}_{kind}{r}" for g in a], "arraytype_temp": f"DMA{26 + r}",
            "query_gene": q, "array_gene": a, "query_kind": "deletion",
            "array_kind": "deletion" if kind == "dma" else "ts",
            "dmf": true_f + rng.normal(0, fit_noise, n_pairs),
            "epsilon": true_e + rng.normal(0, eps_noise, n_pairs)}))
    return pd.concat(out, ignore_index=True)


def _store(root: Path, frames: list[pd.DataFrame], alleles: str = "deletion") -> Workspace:
    ws = Workspace(root)
    con = ws.connect(read_only=False)
    try:
        create_schema(con)
        for frame in frames:
            con.register("incoming", frame)
            con.execute("INSERT INTO sga BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute("INSERT INTO meta VALUES ('alleles', ?)", [alleles])
    finally:
        con.close()
    return ws


def test_replicate_ceiling_matches_known_noise(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    # two repeats each: half-mean reliability 1/(1+s^2), Spearman-Brown 2R/(1+R), r = sqrt
    ws = _store(tmp_path / "ws", [_sga_rows(4000, 2, 0.5, 1.0, rng),
                                  _sga_rows(300, 1, 0.5, 1.0, rng, first=4000)])   # measured once: left out
    result = replicate_ceiling(ws)
    for target, noise in (("fitness", 0.5), ("epsilon", 1.0)):
        half = 1 / (1 + noise ** 2)
        reliability = 2 * half / (1 + half)
        assert result[f"n_{target}"] == 4000
        assert result[f"{target}_reliability"] == pytest.approx(reliability, abs=0.02)
        assert result[f"{target}_r"] == pytest.approx(np.sqrt(reliability), abs=0.012)
    assert result["by_size"][2]["epsilon_r"] == result["epsilon_r"]
    assert 1 not in result["by_size"]                     # no smf_raw rows in this store
    assert replicate_ceiling(ws, seed=0) == result        # seeded halves
    assert replicate_ceiling(ws, seed=1)["fitness_r"] != result["fitness_r"]


def test_replicate_ceiling_exact_repeats_and_allele_filter(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    same = _sga_rows(50, 3, 0.0, 0.0, rng)
    noisy_ts = _sga_rows(50, 2, 5.0, 5.0, rng, kind="tsa", first=50)     # excluded kind: ignored
    result = replicate_ceiling(_store(tmp_path / "ws", [same, noisy_ts]))
    assert result["n_fitness"] == 50
    assert result["fitness_r"] == pytest.approx(1.0)
    assert result["epsilon_reliability"] == pytest.approx(1.0)
    with_ts = replicate_ceiling(_store(tmp_path / "ws2", [same, noisy_ts], "deletion,ts"))
    assert with_ts["n_fitness"] == 100
    assert with_ts["fitness_r"] < 0.95


def test_expected_epsilon_is_the_mean_of_the_planted_one() -> None:
    world = demo_world("tiny", seed=0)
    gi, gj = np.triu_indices(world.n, k=1)
    planted, expected = pair_epsilon(world, gi, gj), expected_pair_epsilon(world, gi, gj)
    slope = np.polyfit(expected, planted, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    assert planted.mean() == pytest.approx(expected.mean(), abs=0.002)


def _demo_test_set(ws: Workspace) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every measured single, pair and triple of the workspace, as a test set would hold them."""
    con = ws.connect()
    try:
        genes = [g for (g,) in con.execute("SELECT gene FROM genes ORDER BY gene").fetchall()]
        sets = con.execute(
            """SELECT gene_a, gene_b, NULL, fitness, epsilon FROM dmf
               UNION ALL SELECT gene_a, gene_b, gene_c, fitness, tau FROM tmf
               UNION ALL SELECT gene, NULL, NULL, fitness, NULL FROM smf""").fetchall()
    finally:
        con.close()
    pos = {g: i for i, g in enumerate(genes)}
    idx = np.array([[pos.get(g, -1) for g in row[:3]] for row in sets])
    fitness = np.array([row[3] for row in sets], dtype=float)
    interaction = np.array([np.nan if row[4] is None else row[4] for row in sets], dtype=float)
    return genes, idx, fitness, interaction


def test_truth_ceiling_on_tiny_demo(tiny_workspace: Workspace) -> None:
    genes, idx, fitness, interaction = _demo_test_set(tiny_workspace)
    result = truth_ceiling(tiny_workspace, genes, idx, fitness, interaction)
    size = (idx >= 0).sum(axis=1)
    assert [result["by_size"][k]["n"] for k in (1, 2, 3)] == [int((size == k).sum()) for k in (1, 2, 3)]
    assert result["by_size"][1]["epsilon_r"] is None
    assert result["by_size"][1]["fitness_r"] > 0.95     # SMF is a per-gene fact
    assert 0.3 < result["by_size"][2]["epsilon_r"] < 0.7
    assert 0.1 < result["by_size"][3]["epsilon_r"] < 0.5
    assert result["by_size"][3]["fitness_r"] > 0.85 and result["fitness_r"] > 0.9
    shuffled = np.random.default_rng(0).permutation(interaction)
    control = truth_ceiling(tiny_workspace, genes, idx, fitness, shuffled)
    for k in (2, 3):
        assert abs(control["by_size"][k]["epsilon_r"]) < 0.05
        assert result["by_size"][k]["epsilon_r"] > control["by_size"][k]["epsilon_r"] + 0.1


def test_replicate_ceiling_on_tiny_demo_has_every_size(tiny_workspace: Workspace) -> None:
    result = replicate_ceiling(tiny_workspace)
    assert sorted(result["by_size"]) == [1, 2, 3]
    assert result["by_size"][3]["n_epsilon"] > 100          # double mutants built twice
    assert 0.5 < result["by_size"][2]["epsilon_r"] < 1.0
    assert result["n_fitness"] == sum(v["n_fitness"] for v in result["by_size"].values())


def test_truth_ceiling_only_for_demo_workspaces(tmp_path: Path) -> None:
    ws = _store(tmp_path / "ws", [])
    assert replicate_ceiling(ws)["fitness_r"] is None and replicate_ceiling(ws)["n_fitness"] == 0
    assert truth_ceiling(ws, ["YAL001C"], np.array([[0, -1]]), np.ones(1), np.full(1, np.nan)) is None
