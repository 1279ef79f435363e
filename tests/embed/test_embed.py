"""Embeddings layer: the kmer and random embedders, the content-addressed cache, features, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cre_core.embed import kmer
from cre_core.embed.base import Window, read_windows
from cre_core.embed.cache import cache_files, cache_path, read_cache
from cre_core.embed.features import list_embeddings, load_features
from cre_core.embed.kmer import KmerEmbedder, WordsEmbedder, encode, spectrum
from cre_core.embed.random import RandomEmbedder
from cre_core.embed.registry import make_embedder
from cre_core.embed.runner import embed_workspace
from cre_core.errors import CreError
from cre_core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def n_windows(ws: Workspace, region: str) -> int:
    con = ws.connect(read_only=True)
    try:
        return con.execute("SELECT count(*) FROM windows WHERE region = ?", [region]).fetchone()[0]
    finally:
        con.close()


def change_one_window(ws: Workspace, region: str = "upstream") -> str:
    """Mutate one base of one window in the store (a changed genome); returns the gene."""
    con = ws.connect(read_only=False)
    try:
        gene, seq = con.execute(
            "SELECT gene, sequence FROM windows WHERE region = ? AND NOT padded ORDER BY gene LIMIT 1",
            [region]).fetchone()
        base = "A" if seq[500] != "A" else "C"
        con.execute("UPDATE windows SET sequence = ? WHERE gene = ? AND region = ?",
                    [seq[:500] + base + seq[501:], gene, region])
    finally:
        con.close()
    return gene


# --- kmer -------------------------------------------------------------------------------------

def test_kmer_spectrum_known_values():
    s = spectrum(encode(["ACGTAC"]), ks=(1, 2))[0]
    # k=1: A2 C2 G1 T1 of 6, scaled by 2
    assert np.allclose(s[:4], np.array([2, 2, 1, 1]) / 6 * 2)
    # k=2: AC x2, CG, GT, TA of 5, scaled by 4; index = 4*first + second (A0 C1 G2 T3)
    expected = np.zeros(16)
    expected[[1, 6, 11, 12]] = [2, 1, 1, 1]
    assert np.allclose(s[4:], expected / 5 * 4)


def test_kmer_skips_kmers_with_n_and_lower_case_counts():
    s = spectrum(encode(["NNacgN"]), ks=(1, 2))[0]
    assert np.allclose(s[:4], np.array([1, 1, 1, 0]) / 3 * 2)   # N skipped, lower case counted
    expected = np.zeros(16)
    expected[[1, 6]] = 1                                         # ac, cg; NN, Na, gN skipped
    assert np.allclose(s[4:], expected / 2 * 4)
    assert not spectrum(encode(["NNNNNN"]), ks=(1,)).any()       # nothing countable: zeros


def test_kmer_embedding_is_composition_plus_vocabulary_counts_and_deterministic():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 1003)) for _ in range(3)] + ["ACGT" * 75]
    windows = [Window(f"G{i}", s) for i, s in enumerate(seqs)]
    a = KmerEmbedder().embed(windows, "upstream")
    b = KmerEmbedder().embed(list(reversed(windows)), "upstream")[::-1]
    assert a.shape == (4, 768) and a.dtype == np.float32
    assert np.array_equal(a, b)                              # order and batching do not matter
    assert np.allclose(a[:3, :340], spectrum(encode(seqs[:3])), atol=1e-6)   # k = 1..4 composition
    emb = KmerEmbedder()
    emb.words["upstream"] = np.array([kmer.kmer_codes(encode(["ACGTACGT"]), 8)[0][0, 0],
                                      kmer.kmer_codes(encode(["CGTACGTA"]), 8)[0][0, 0]])
    x = emb.embed([Window("G", "ACGT" * 75)], "upstream")[0]
    # "ACGT" * 75 holds ACGTACGT at positions 0, 4, ..., 292 (74 times) and CGTACGTA 73 times
    assert x[340:343].tolist() == [74.0, 73.0, 0.0] and not x[343:].any()


def plant(rng: np.random.Generator, motif: str, n: int, carriers: int, length: int = 1003) -> list[Window]:
    """``n`` random windows; the first ``carriers`` hold ``motif`` once at a random position."""
    out = []
    for i in range(n):
        seq = "".join(rng.choice(list("ACGT"), length))
        if i < carriers:
            at = int(rng.integers(0, length - len(motif)))
            seq = seq[:at] + motif + seq[at + len(motif):]
        out.append(Window(f"G{i:03d}", seq))
    return out


def test_enriched_words_are_a_planted_10bp_motif_and_its_copies_are_counted():
    """A 10-bp motif in 40 of 300 windows: its three 8-mers rank first, and nothing unrelated passes.

    Round 1's projected 6-mer spectrum spread such a motif over 768 mixed values; here each of
    its 8-mers is a column that counts the copies.
    """
    motif = "GATTACAGCC"
    windows = plant(np.random.default_rng(7), motif, n=300, carriers=40)
    words = [kmer.word_text(c) for c in kmer.enriched_words(windows)]
    assert sorted(words[:3]) == sorted(motif[i:i + 8] for i in range(3))   # highest z first
    # the others straddle the motif's edge (7 motif bases and one flanking base), never noise
    assert all(w[:7] in motif or w[1:] in motif for w in words[3:]) and len(words) <= 12
    emb = KmerEmbedder()
    emb.prepare({"upstream": windows})
    x = emb.embed(windows, "upstream")
    assert (x[:40, 340:343] >= 1).all()                     # carriers: every motif word counted
    assert x[40:, 340:343].mean() < 0.1                     # the rest: chance (~996 / 4**8 each)
    assert emb.model_label("upstream") == f"kmer k=1..4 + {len(words)} enriched 8-mers -> 768-d"


def test_kmer_vocabulary_is_in_the_cache_id():
    rng = np.random.default_rng(3)
    with_motif, without = KmerEmbedder(), KmerEmbedder()
    with_motif.prepare({"upstream": plant(rng, "GATTACAGCC", 200, 40)})
    without.prepare({"upstream": plant(rng, "GATTACAGCC", 200, 0)})
    assert with_motif.cache_id("upstream") != without.cache_id("upstream")
    assert with_motif.cache_id("upstream").startswith("c1-4_w8_")


def test_words_embedder_is_the_kmer_word_block_alone():
    """``words``: the same vocabulary and counts as kmer's word columns, no composition, its own
    cache id (so a kmer cache is never read as words)."""
    windows = plant(np.random.default_rng(7), "GATTACAGCC", n=300, carriers=40)
    both, words = KmerEmbedder(), WordsEmbedder()
    both.prepare({"upstream": windows})
    words.prepare({"upstream": windows})
    x, w = both.embed(windows, "upstream"), words.embed(windows, "upstream")
    assert w.shape == (300, kmer.N_WORDS) == (300, words.dim("upstream"))
    assert np.array_equal(w, x[:, 340:])
    assert (w[:40, :3] >= 1).all()
    assert words.cache_id("upstream") != both.cache_id("upstream")
    assert words.cache_id("upstream").startswith("w8_")
    assert words.describe("upstream")["composition_ks"] == []
    assert make_embedder("words").name == "words"


# --- random control ---------------------------------------------------------------------------

def test_random_is_seeded_per_gene_and_region():
    emb = RandomEmbedder()
    a = emb.embed([Window("YAL001C", "ACGT"), Window("YBR002W", "ACGT")], "upstream")
    b = emb.embed([Window("YBR002W", "TTTT")], "upstream")
    assert a.shape == (2, 768)
    assert np.array_equal(a[1], b[0])                     # per gene, sequence plays no part
    assert not np.allclose(a[0], a[1])
    c = emb.embed([Window("YBR002W", "ACGT")], "downstream")
    assert not np.allclose(b[0], c[0])                    # regions differ
    assert not np.allclose(RandomEmbedder(seed=1).embed([Window("YBR002W", "")], "upstream"), b)


# --- cache ------------------------------------------------------------------------------------

class PinnedKmer(KmerEmbedder):
    """The kmer embedder with its vocabulary fitted once: the cache's own behaviour, isolated."""

    def prepare(self, windows: dict[str, list[Window]]) -> None:
        if not self.words:
            super().prepare(windows)


def test_cache_rerun_computes_nothing_and_a_changed_window_recomputes_one(workspace_copy):
    ws = workspace_copy
    n = n_windows(ws, "upstream")
    emb = PinnedKmer()
    first = embed_workspace(ws, emb)
    assert [(r.region, r.computed, r.cached, r.n_genes, r.dim) for r in first] == [
        ("upstream", n, 0, n, 768), ("downstream", n, 0, n, 768)]
    path = cache_path(ws, "kmer", emb.cache_id("upstream"), "upstream")
    before = read_cache(path)
    second = embed_workspace(ws, emb)
    assert [(r.computed, r.cached) for r in second] == [(0, n), (0, n)]

    gene = change_one_window(ws)
    third = embed_workspace(ws, emb)
    assert [(r.region, r.computed, r.cached) for r in third] == [
        ("upstream", 1, n - 1), ("downstream", 0, n)]
    after = read_cache(path)
    old_rows, new_rows = before.mapping(), after.mapping()
    assert old_rows[gene] != new_rows[gene]
    assert all(old_rows[g] == new_rows[g] for g in new_rows if g != gene)
    assert len(after.keys) == n + 1                      # the old vector is kept (gene null)
    assert after.genes.count(None) == 1
    changed = [w for w in read_windows(ws, ["upstream"])["upstream"] if w.gene == gene]
    assert np.allclose(after.vectors[after.index()[new_rows[gene]]], emb.embed(changed, "upstream")[0])


def test_features_follow_the_current_genomes_vocabulary(workspace_copy):
    """A changed genome re-fits the enriched words; features always match a fresh fit."""
    ws = workspace_copy
    load_features(ws, "upstream")
    change_one_window(ws)
    genes, x = load_features(ws, "upstream")
    windows = read_windows(ws, ["upstream"])
    fresh = KmerEmbedder()
    fresh.prepare(windows)
    rows = {w.gene: w for w in windows["upstream"]}
    want = fresh.embed([rows[g] for g in genes], "upstream")
    assert np.allclose(x, want, atol=1e-6)


def test_cache_files_are_parquet_outside_the_store_and_embedders_do_not_mix(workspace_copy):
    ws = workspace_copy
    embed_workspace(ws, KmerEmbedder(), ["upstream"])
    embed_workspace(ws, RandomEmbedder(), ["upstream"])
    files = [str(p.relative_to(ws.embeddings_dir)) for p in cache_files(ws)]
    assert [(f.split("/")[0], f.split("/")[2]) for f in files] == [
        ("kmer", "upstream.parquet"), ("random", "upstream.parquet")]
    assert files[1] == "random/d768_s0/upstream.parquet"
    table = pq.read_table(ws.embeddings_dir / files[0])
    assert table.column_names == ["gene", "key", "embedding"]
    _, k = load_features(ws, "upstream", "kmer")
    _, r = load_features(ws, "upstream", "random")
    assert not np.allclose(k, r)
    con = ws.connect(read_only=True)
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()
    assert not any("embed" in t for t in tables)


# --- features ---------------------------------------------------------------------------------

@pytest.mark.parametrize("embedder", ["kmer", "random"])
def test_both_is_upstream_then_downstream(workspace_copy, embedder):
    """The seed's bug: "both" held only the first part. Every part must be there, in order."""
    ws = workspace_copy
    genes_b, both = load_features(ws, "both", embedder)
    genes_u, up = load_features(ws, "upstream", embedder)
    genes_d, down = load_features(ws, "downstream", embedder)
    assert genes_b == genes_u == genes_d == sorted(genes_b)
    assert both.shape == (len(genes_b), 1536) and both.dtype == np.float32
    assert np.array_equal(both[:, :768], up)
    assert np.array_equal(both[:, 768:], down)
    assert not np.allclose(both[:, :768], both[:, 768:])   # not the same part twice


def test_load_features_computes_kmer_on_demand_and_genes_are_those_with_windows(workspace_copy):
    ws = workspace_copy
    assert not cache_files(ws)
    genes, x = load_features(ws, "downstream")
    con = ws.connect(read_only=True)
    try:
        expected = [g for (g,) in con.execute(
            "SELECT gene FROM windows WHERE region = 'downstream' ORDER BY gene").fetchall()]
    finally:
        con.close()
    assert genes == expected and x.shape == (len(expected), 768)
    assert len(cache_files(ws)) == 1


def test_read_paths_never_compute_or_write_embeddings(workspace_copy):
    ws = workspace_copy
    with pytest.raises(CreError, match="have no kmer embedding .* run `python -m cre_core embed"):
        load_features(ws, "both", compute=False)
    assert not cache_files(ws)                                 # nothing written
    load_features(ws, "upstream")                              # a write path computes it...
    genes, x = load_features(ws, "upstream", compute=False)    # ...and a read path reads it
    assert len(cache_files(ws)) == 1 and x.shape == (len(genes), 768)


def test_load_features_errors_are_actionable(workspace_copy, tmp_path):
    with pytest.raises(CreError, match="unknown features"):
        load_features(workspace_copy, "sideways")
    with pytest.raises(CreError, match="unknown embedder"):
        load_features(workspace_copy, "both", "glove")
    with pytest.raises(CreError, match="no workspace"):
        load_features(Workspace(tmp_path / "nowhere"), "both")
    with pytest.raises(CreError, match="not in the hub cache"):
        load_features(workspace_copy, "both", "specieslm", model="someone/nothing@main")


def test_list_embeddings(workspace_copy):
    ws = workspace_copy
    assert list_embeddings(ws).empty
    embed_workspace(ws, KmerEmbedder())
    table = list_embeddings(ws)
    assert list(table.columns[:7]) == ["embedder", "model", "region", "n_genes", "dim", "created", "seconds"]
    assert table["embedder"].tolist() == ["kmer", "kmer"]
    assert table["region"].tolist() == ["upstream", "downstream"]
    assert table["n_genes"].tolist() == [n_windows(ws, "upstream")] * 2
    assert (table["dim"] == 768).all() and (table["seconds"] > 0).all()
    assert isinstance(table["created"].iloc[0], pd.Timestamp)


# --- CLI --------------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cre_core", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_embed_prints_one_json_line_per_region_and_writes_out(workspace_copy, tmp_path):
    ws = workspace_copy
    out = tmp_path / "emb.parquet"
    done = cli("embed", "--workspace", str(ws.root), "--embedder", "kmer", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()[-2:]]
    n = n_windows(ws, "upstream")
    for line, region in zip(lines, ["upstream", "downstream"]):
        assert set(line) == {"embedder", "model", "region", "n_genes", "dim", "seconds", "computed", "cached"}
        assert (line["embedder"], line["region"], line["n_genes"], line["dim"]) == ("kmer", region, n, 768)
        assert (line["computed"], line["cached"]) == (n, 0)
    table = pq.read_table(out).to_pandas()
    assert list(table.columns) == ["gene", "region", "embedding"]
    assert len(table) == 2 * n and len(table["embedding"].iloc[0]) == 768
    genes, x = load_features(ws, "upstream")
    first = table[(table.region == "upstream") & (table.gene == genes[0])]["embedding"].iloc[0]
    assert np.allclose(first, x[0])

    again = cli("embed", "--workspace", str(ws.root), "--regions", "downstream")
    line = json.loads(again.stdout.strip().splitlines()[-1])
    assert (line["region"], line["computed"], line["cached"]) == ("downstream", 0, n)


def test_cli_embed_errors_are_one_line(tmp_path, workspace_copy):
    done = cli("embed", "--workspace", str(tmp_path / "none"))
    assert done.returncode == 2 and done.stderr.startswith("error: no workspace")
    done = cli("embed", "--workspace", str(workspace_copy.root), "--regions", "middle")
    assert done.returncode == 2 and "unknown region 'middle'" in done.stderr
    done = cli("embed", "--workspace", str(workspace_copy.root), "--embedder", "specieslm",
               "--model", str(tmp_path), "--device", "cpu")
    assert done.returncode == 2 and "holds neither a model" in done.stderr
    assert "Traceback" not in done.stderr
