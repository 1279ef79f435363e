"""Noise ceilings: split-half replicate ceiling on a constructed store, demo truth ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cre_core.data.ceilings import replicate_ceiling
from cre_core.data.store import counts, create_schema
from cre_core.demo.ceiling import truth_ceiling
from cre_core.demo.generate import demo_world
from cre_core.demo.world import (
    expected_pair_epsilon,
    pair_epsilon,
    sample_triple,
    triple_tau,
)
from cre_core.train.data import load_sets
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


def test_sampled_triples_match_the_planted_ones() -> None:
    """The sampler behind the triple ceiling draws from the same model the world planted."""
    world = demo_world("tiny", seed=0)
    rng = np.random.default_rng(3)
    g = np.sort(rng.choice(world.n, size=(20_000, 3)), axis=1)
    g = g[(g[:, 0] < g[:, 1]) & (g[:, 1] < g[:, 2])]
    (e01, _, _), tau = sample_triple(world, g, rng)
    planted_tau = triple_tau(world, g[:, 0], g[:, 1], g[:, 2])
    planted_eps = pair_epsilon(world, g[:, 0], g[:, 1])
    assert tau.mean() == pytest.approx(planted_tau.mean(), abs=0.001)
    assert np.mean(tau < -0.08) == pytest.approx(np.mean(planted_tau < -0.08), abs=0.004)
    assert e01.mean() == pytest.approx(planted_eps.mean(), abs=0.002)
    assert np.mean(np.abs(e01) > 0.08) == pytest.approx(np.mean(np.abs(planted_eps) > 0.08), abs=0.01)


def test_truth_ceiling_on_tiny_demo(tiny_workspace: Workspace) -> None:
    table = load_sets(tiny_workspace)                     # every measured single, pair and triple
    genes, idx, fitness, interaction = table.genes, table.idx, table.fitness, table.interaction
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


def test_store_from_before_triples(tmp_path: Path) -> None:
    """A store built before trigenic_raw/tmf existed still reports counts and ceilings."""
    ws = _store(tmp_path / "ws", [_sga_rows(100, 2, 0.0, 0.0, np.random.default_rng(0))])
    con = ws.connect(read_only=False)
    try:
        con.execute("DROP TABLE trigenic_raw")
        con.execute("DROP TABLE tmf")
        assert counts(con)["tmf"] == 0 and counts(con)["sga"] == 200
    finally:
        con.close()
    assert replicate_ceiling(ws)["n_fitness"] == 100
