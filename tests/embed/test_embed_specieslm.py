"""SpeciesLM embedder on a tiny random BERT saved in the SpeciesLM layout (CPU, fp32).

The fixture model has SpeciesLM's vocabulary (5 special tokens, 4,096 6-mers, species tokens)
and 9 layers, so layers 8..last exist, but a tiny hidden size: attention over ~1,000 tokens is
still the cost, so these tests use a hand-made store of a few genes, not the demo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cre_core.data.store import create_schema
from cre_core.embed.base import Window
from cre_core.embed.cache import cache_files
from cre_core.embed.features import list_embeddings, load_features
from cre_core.embed.runner import embed_workspace
from cre_core.embed.specieslm import (
    SpeciesLMEmbedder,
    Vocab,
    resolve_models,
    save_random_model,
    tokenize,
)
from cre_core.errors import CreError
from cre_core.processes import log_tail
from cre_core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(hidden=16, layers=9, heads=2, intermediate=32, max_positions=1024)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_random_model(tmp_path_factory.mktemp("lm") / "tiny_lm", seed=0, **TINY)


@pytest.fixture(scope="module")
def model_pair(tmp_path_factory) -> Path:
    """A folder holding upstream_species_lm/ and downstream_species_lm/ (different weights)."""
    root = tmp_path_factory.mktemp("pair")
    save_random_model(root / "upstream_species_lm", seed=1, **TINY)
    save_random_model(root / "downstream_species_lm", seed=2, **TINY)
    return root


def random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def make_store(root: Path, n_genes: int = 5, seed: int = 0) -> Workspace:
    """A hand-made store: a few genes, their windows (two of them padded at an end), SMF."""
    rng = np.random.default_rng(seed)
    ws = Workspace(root)
    con = ws.connect(read_only=False)
    try:
        create_schema(con)
        for i in range(n_genes):
            gene = f"YAL{i + 1:03d}W"
            up, down, up_pad, down_pad = random_seq(rng, 1003), random_seq(rng, 300), 0, 0
            if i == 1:
                up_pad = 850
                up = "N" * up_pad + up[up_pad:]
            if i == 2:
                down_pad = 177
                down = down[: 300 - down_pad] + "N" * down_pad
            con.execute("INSERT INTO genes VALUES (?, ?, 'chrI', 1, 2, '+', 'Verified', 1, 2)",
                        [gene, f"G{i}"])
            con.execute("INSERT INTO windows VALUES (?, 'upstream', ?, ?, ?)",
                        [gene, up, up_pad > 0, up_pad])
            con.execute("INSERT INTO windows VALUES (?, 'downstream', ?, ?, ?)",
                        [gene, down, down_pad > 0, down_pad])
            con.execute("INSERT INTO smf VALUES (?, ?, 0.01, 1)", [gene, 0.5 + 0.1 * i])
    finally:
        con.close()
    return ws


@pytest.fixture
def small_ws(tmp_path) -> Workspace:
    return make_store(tmp_path / "ws")


# --- the authors' computation, one sequence at a time (the reference) ------------------------

def reference(model_dir: Path, window: Window, region: str, species: str = "candida_glabrata"):
    """Authors' loop: tokens by string lookup, no batch, no padding, eager attention, fp32.

    An edge window is embedded from its real bases alone; upstream its 6-mers keep the token
    positions they have in the full window (position ids skip the [PAD] slots).
    """
    from transformers import BertForMaskedLM

    vocab = {t: i for i, t in enumerate((model_dir / "vocab.txt").read_text().split())}
    seq, pad = window.sequence, window.pad_len
    real = seq[pad:] if region == "upstream" else seq[: len(seq) - pad]
    kmers = [real[i : i + 6] for i in range(len(real) - 5)]
    ids = [vocab["[CLS]"], vocab[species], *(vocab.get(k, vocab["[UNK]"]) for k in kmers), vocab["[SEP]"]]
    shift = pad if region == "upstream" else 0
    positions = [0, 1, *(2 + shift + i for i in range(len(kmers))), 2 + shift + len(kmers)]
    model = BertForMaskedLM.from_pretrained(model_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        states = model(torch.tensor([ids]), position_ids=torch.tensor([positions]),
                       output_hidden_states=True).hidden_states
    return torch.stack(states[8:]).mean(0).mean(1)[0].numpy()


# --- tokenization -----------------------------------------------------------------------------

def test_tokens_follow_the_contract(model_dir):
    vocab = Vocab(model_dir / "vocab.txt")
    sp = vocab.species_id("candida_glabrata")
    up = Window("A", "NNN" + "ACGTACGTAC", 3)          # 13 bases, 3 N at the 5' start
    ids, mask = tokenize([up], "upstream", vocab, sp)
    v = vocab.ids
    assert ids[0].tolist() == [v["[CLS]"], sp, 0, 0, 0, v["ACGTAC"], v["CGTACG"], v["GTACGT"],
                               v["TACGTA"], v["ACGTAC"], v["[SEP]"]]
    assert mask[0].tolist() == [1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    down = Window("B", "ACGTACGTAC" + "NN", 2)           # 12 bases, 2 N at the 3' end
    ids, mask = tokenize([down], "downstream", vocab, sp)
    assert ids[0].tolist() == [v["[CLS]"], sp, v["ACGTAC"], v["CGTACG"], v["GTACGT"], v["TACGTA"],
                               v["ACGTAC"], v["[SEP]"], 0, 0]
    assert mask[0].tolist() == [1] * 8 + [0] * 2
    inner = Window("C", "ACGTNACGTAC", 0)                # an N inside: its 6-mers are [UNK]
    ids, mask = tokenize([inner, up], "upstream", vocab, sp)   # batch padding at the end
    assert ids[0, 2:7].tolist() == [v["[UNK]"]] * 5 and ids[0, 7] == v["ACGTAC"]
    assert mask[0].tolist() == [1] * 9 + [0] * 2


def test_kmer_tokens_match_the_hf_tokenizer(model_dir):
    from transformers import BertTokenizer

    rng = np.random.default_rng(3)
    seq = random_seq(rng, 300)
    kmers = [seq[i : i + 6] for i in range(295)]
    hf = BertTokenizer(str(model_dir / "vocab.txt"), do_lower_case=False)(" ".join(kmers))["input_ids"]
    vocab = Vocab(model_dir / "vocab.txt")
    ids, _ = tokenize([Window("A", seq)], "downstream", vocab, vocab.species_id("candida_glabrata"))
    assert ids[0, 2:-1].tolist() == hf[1:-1]


def test_unknown_species_token_lists_the_known_ones(model_dir):
    with pytest.raises(CreError, match="saccharomyces_paradoxus"):
        Vocab(model_dir / "vocab.txt").species_id("saccharomyces_cerevisiae")


# --- batched == reference ---------------------------------------------------------------------

def test_batched_matches_one_at_a_time_reference(model_dir):
    rng = np.random.default_rng(7)
    up_full = Window("U1", random_seq(rng, 1003))
    up_pad = Window("U2", "N" * 850 + random_seq(rng, 153), 850)
    up_pad3 = Window("U3", "NNN" + random_seq(rng, 1000), 3)
    up_inner_n = Window("U4", random_seq(rng, 500) + "N" + random_seq(rng, 502))
    ups = [up_full, up_pad, up_pad3, up_inner_n]
    down_full = Window("D1", random_seq(rng, 300))
    down_pad = Window("D2", random_seq(rng, 123) + "N" * 177, 177)
    down_short = Window("D3", random_seq(rng, 290))      # another length: batch padding
    downs = [down_full, down_pad, down_short]

    emb = SpeciesLMEmbedder(str(model_dir), device="cpu", batch_size=2)
    got_up = emb.embed(ups, "upstream")
    got_down = emb.embed(downs, "downstream")
    assert got_up.shape == (4, 16) and got_up.dtype == np.float32
    for window, got in zip(ups, got_up):
        assert np.abs(got - reference(model_dir, window, "upstream")).max() < 1e-4, window.gene
    for window, got in zip(downs, got_down):
        assert np.abs(got - reference(model_dir, window, "downstream")).max() < 1e-4, window.gene
    # a padded downstream window is exactly the shorter window alone
    alone = emb.embed([Window("D2", down_pad.sequence[:123])], "downstream")[0]
    assert np.abs(alone - got_down[1]).max() < 1e-5
    # batch size and order change nothing
    again = SpeciesLMEmbedder(str(model_dir), device="cpu", batch_size=8).embed(downs[::-1], "downstream")
    assert np.abs(again[::-1] - got_down).max() < 1e-5


def test_bf16_autocast_path_runs_on_cpu(model_dir):
    rng = np.random.default_rng(8)
    windows = [Window("D1", random_seq(rng, 300)), Window("D2", random_seq(rng, 300))]
    fp32 = SpeciesLMEmbedder(str(model_dir), device="cpu").embed(windows, "downstream")
    bf16 = SpeciesLMEmbedder(str(model_dir), device="cpu", precision="bf16").embed(windows, "downstream")
    assert bf16.dtype == np.float32
    assert np.abs(bf16 - fp32).max() < 0.1 and not np.array_equal(bf16, fp32)


# --- model sources ----------------------------------------------------------------------------

def test_model_forms(model_dir, model_pair, tmp_path, monkeypatch):
    single = resolve_models(str(model_dir), ["upstream", "downstream"])
    assert single["upstream"].path == single["downstream"].path == model_dir.resolve()
    pair = resolve_models(str(model_pair), ["upstream", "downstream"])
    assert pair["upstream"].path.name == "upstream_species_lm"
    assert pair["downstream"].path.name == "downstream_species_lm"
    with pytest.raises(CreError, match="no upstream_species_lm"):
        shutil.copytree(model_pair / "downstream_species_lm", tmp_path / "half" / "downstream_species_lm")
        resolve_models(str(tmp_path / "half"), ["upstream"])

    # a hub id resolves from the local hub cache only, never the network
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--gagneurlab--SpeciesLM"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "upstream_species_lm").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    hub = resolve_models("gagneurlab/SpeciesLM@upstream_species_lm", ["upstream", "downstream"])
    assert hub["upstream"].label == "gagneurlab/SpeciesLM@upstream_species_lm"
    assert hub["upstream"].path == repo / "snapshots" / commit
    with pytest.raises(CreError, match=f"downstream_species_lm is not in the hub cache .*{repo}"):
        resolve_models("gagneurlab/SpeciesLM", ["upstream", "downstream"])
    with pytest.raises(CreError, match="not a hub id"):
        resolve_models("./no/such/dir", ["upstream"])


# --- cache ------------------------------------------------------------------------------------

def test_specieslm_cache_reruns_and_changes(small_ws, model_dir):
    emb = SpeciesLMEmbedder(str(model_dir), device="cpu", batch_size=4)
    first = embed_workspace(small_ws, emb)
    assert [(r.computed, r.cached, r.dim) for r in first] == [(5, 0, 16), (5, 0, 16)]
    assert [(r.computed, r.cached) for r in embed_workspace(small_ws, emb)] == [(0, 5), (0, 5)]
    con = small_ws.connect(read_only=False)
    try:
        con.execute("UPDATE windows SET sequence = (CASE WHEN sequence[1] = 'A' THEN 'C' ELSE 'A' "
                    "END) || substr(sequence, 2) WHERE gene = 'YAL004W' AND region = 'downstream'")
    finally:
        con.close()
    third = embed_workspace(small_ws, emb)
    assert [(r.region, r.computed, r.cached) for r in third] == [
        ("upstream", 0, 5), ("downstream", 1, 4)]
    genes, x = load_features(small_ws, "both", "specieslm", model=str(model_dir))
    assert genes == [f"YAL00{i}W" for i in range(1, 6)] and x.shape == (5, 32)
    table = list_embeddings(small_ws)
    assert table["model"].tolist() == [str(model_dir.resolve())] * 2


def test_two_models_never_mix(small_ws, model_dir, model_pair):
    embed_workspace(small_ws, SpeciesLMEmbedder(str(model_dir), device="cpu"), ["downstream"])
    other = SpeciesLMEmbedder(str(model_pair), device="cpu")
    result = embed_workspace(small_ws, other, ["downstream"])[0]
    assert (result.computed, result.cached) == (5, 0)     # nothing borrowed from the first model
    assert len(cache_files(small_ws)) == 2
    _, a = load_features(small_ws, "downstream", "specieslm", model=str(model_dir))
    _, b = load_features(small_ws, "downstream", "specieslm", model=str(model_pair))
    assert not np.allclose(a, b)
    # the same folder re-saved with other weights is another model too
    copy = small_ws.root.parent / "copy_lm"
    save_random_model(copy, seed=5, **TINY)
    first = embed_workspace(small_ws, SpeciesLMEmbedder(str(copy), device="cpu"), ["downstream"])[0]
    save_random_model(copy, seed=6, **TINY)
    second = embed_workspace(small_ws, SpeciesLMEmbedder(str(copy), device="cpu"), ["downstream"])[0]
    assert first.computed == second.computed == 5


def test_specieslm_features_say_how_to_compute_them(small_ws, model_dir):
    with pytest.raises(CreError, match=r"run `python -m cre_core embed .*--embedder specieslm"):
        load_features(small_ws, "upstream", "specieslm", model=str(model_dir))


# --- CLI and torchrun -------------------------------------------------------------------------

def run_cli(args: list[str], launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [*(launcher or [sys.executable]), "-m", "cre_core", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.slow          # two torchrun processes load the model (~40 s)
def test_torchrun_two_gloo_ranks_equal_one_process(tmp_path, model_dir):
    single = make_store(tmp_path / "single", n_genes=6)
    multi = make_store(tmp_path / "multi", n_genes=6)
    args = ["embed", "--embedder", "specieslm", "--model", str(model_dir), "--device", "cpu",
            "--batch-size", "2"]
    one = run_cli([*args, "--workspace", str(single.root)])
    assert one.returncode == 0, one.stderr
    two = run_cli([*args, "--workspace", str(multi.root)],
                  launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone",
                            "--nproc-per-node", "2"])
    assert two.returncode == 0, two.stderr[-3000:]
    lines = [json.loads(x) for x in two.stdout.splitlines() if x.startswith("{")]
    assert [(x["region"], x["computed"], x["n_genes"]) for x in lines] == [
        ("upstream", 6, 6), ("downstream", 6, 6)]                # rank 0 alone prints
    for rank in (0, 1):                                          # each rank did its half
        assert f"rank {rank}/2: embedded 3 of the 6 missing upstream windows" in two.stderr
    for features in ("upstream", "downstream"):
        g1, x1 = load_features(single, features, "specieslm", model=str(model_dir))
        g2, x2 = load_features(multi, features, "specieslm", model=str(model_dir))
        assert g1 == g2
        assert np.abs(x1 - x2).max() < 1e-5


# --- the page starts SpeciesLM in the background -------------------------------------------

def test_page_starts_a_background_specieslm_run(small_ws, model_dir, monkeypatch):
    import time

    from streamlit.testing.v1 import AppTest

    from cre_core.embed import jobs

    monkeypatch.setenv("CRE_WORKSPACE", str(small_ws.root))
    at = AppTest.from_file(str(ROOT / "pages" / "embeddings.py"), default_timeout=60).run()
    at.selectbox(key="emb_new_embedder").set_value("specieslm").run()
    at.text_input[0].set_value(str(model_dir))
    at.selectbox[-1].set_value("cpu")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Started background run" in at.success[0].value
    deadline = time.monotonic() + 180
    while (job := jobs.list_jobs(small_ws)[0])["state"] in ("starting", "running"):
        assert time.monotonic() < deadline, log_tail(Path(job["log"]), 15)
        time.sleep(0.5)
    assert job["state"] == "done", (job, log_tail(Path(job["log"]), 15))
    assert [(r["region"], r["computed"]) for r in job["results"]] == [("upstream", 5), ("downstream", 5)]
    at.run()
    table = at.dataframe[0].value
    assert table["embedder"].tolist() == ["specieslm", "specieslm"]
    assert table["n_genes"].tolist() == [5, 5]
    assert any("done" in m.value for m in at.markdown)


def test_features_load_without_the_weights_once_embedded(small_ws, tmp_path):
    """Embedded on a GPU machine, trained elsewhere: the caches are found by their --model."""
    lm = save_random_model(tmp_path / "lm_gone", seed=3, **TINY)
    embed_workspace(small_ws, SpeciesLMEmbedder(str(lm), device="cpu"))
    genes, want = load_features(small_ws, "both", "specieslm", model=str(lm))
    shutil.rmtree(lm)
    got_genes, got = load_features(small_ws, "both", "specieslm", model=str(lm))
    assert got_genes == genes and np.array_equal(got, want)
    assert np.array_equal(load_features(small_ws, "both", "specieslm")[1], want)   # the only one
    with pytest.raises(CreError, match="no SpeciesLM embedding of it"):
        load_features(small_ws, "both", "specieslm", model=str(tmp_path / "other"))


@pytest.mark.gpu
def test_cuda_fast_path_matches_cpu(model_dir):
    """bf16 autocast + SDPA + pinned transfers on CUDA agree with the fp32 CPU result."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    rng = np.random.default_rng(11)
    windows = [Window(f"U{i}", random_seq(rng, 1003)) for i in range(5)]
    windows.append(Window("U5", "N" * 400 + random_seq(rng, 603), 400))
    cpu = SpeciesLMEmbedder(str(model_dir), device="cpu").embed(windows, "upstream")
    gpu = SpeciesLMEmbedder(str(model_dir), device="cuda", batch_size=4).embed(windows, "upstream")
    fp32 = SpeciesLMEmbedder(str(model_dir), device="cuda", precision="fp32").embed(windows, "upstream")
    assert np.abs(fp32 - cpu).max() < 1e-3
    assert np.abs(gpu - cpu).max() < 0.1
