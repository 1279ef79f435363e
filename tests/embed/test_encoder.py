"""The trainable sequence encoder: motif recovery, attribution, and training through the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cre_core.embed.seq_encoder import one_hot, sequence_codes
from cre_core.genome.dna import reverse_complement as revcomp
from cre_core.interpret.attribution import attribute, planted_hits, planted_mass
from cre_core.interpret.motifs import MATCH_THRESHOLD, describe_filters, match_score
from cre_core.models import DeepSet, SeqEncoder
from cre_core.workspace import Workspace
from tests.models_support import build_model

MOTIF, DECOY = "GATTACAGCC", "CTTGACGTAA"


def synthetic(n: int = 384, length: int = 120, seed: int = 0):
    """Random windows; gene i holds copies[i] (0-2) of MOTIF, on a random strand each."""
    rng = np.random.default_rng(seed)
    seqs, copies, sites = [], rng.integers(0, 3, n), []
    for c in copies:
        s = list("".join(rng.choice(list("ACGT"), length)))
        starts = rng.choice(np.arange(5, length - 15, 16), size=c, replace=False)
        for st in starts:
            s[st:st + 10] = MOTIF if rng.random() < 0.5 else revcomp(MOTIF)
        seqs.append("".join(s))
        sites.append(sorted(int(x) for x in starts))
    return seqs, copies, sites


@pytest.fixture(scope="module")
def trained():
    """A DeepSet on the encoder, trained on single deletions with fitness 1 - 0.3·copies."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)               # tiny tensors: one thread is 3x faster than two
    seqs, copies, sites = synthetic()
    enc = SeqEncoder(len(seqs), ("upstream",), filters=8, width=12)
    enc.set_windows({"upstream": sequence_codes(seqs)})
    model = build_model("deepset", len(seqs), hidden=16, genes=enc)
    idx = torch.arange(len(seqs)).unsqueeze(1)
    y = torch.as_tensor(1.0 - 0.3 * copies, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    model.train()
    for _ in range(200):
        loss = model(idx, y)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    model.eval()
    return model, enc, seqs, copies, sites, loss.item()


def test_sequence_codes_and_strand_sharing():
    codes = sequence_codes(["ACGTN", "acg"])
    assert codes.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 4, 4]]
    enc = SeqEncoder(2, ("upstream",), filters=3, width=10)
    enc.set_windows({"upstream": sequence_codes([MOTIF + "AAAAA", "TTTTT" + revcomp(MOTIF)])})
    enc.eval()
    vec = enc.all()
    # a motif and its reverse complement are read alike: same max-pooled activations
    assert torch.allclose(vec[0, :3], vec[1, :3], atol=1e-5)


def test_planted_motif_is_recovered_by_a_short_training_run(trained):
    _, enc, *_, loss = trained
    assert loss < 0.1 * 0.09 * 2 / 3         # < 10% of the target's variance (0.3² · var(copies))
    filters, best = describe_filters(enc, {"planted": MOTIF, "decoy": DECOY})
    top = filters[0]
    assert top.match == "planted" and top.match_score >= MATCH_THRESHOLD
    assert best["planted"] >= MATCH_THRESHOLD > best["decoy"]


def test_match_score_reads_both_strands_and_offsets():
    pwm = np.full((14, 4), 0.25)
    for j, b in enumerate(revcomp(MOTIF)):
        pwm[2 + j] = [0.94 if b == x else 0.02 for x in "ACGT"]
    score, offset, strand = match_score(pwm, MOTIF)
    assert score > 0.99 and offset == 2 and strand == "-"
    assert match_score(pwm, DECOY)[0] < 0.5


def test_attribution_peaks_on_the_planted_motif(trained):
    model, enc, seqs, copies, sites, _ = trained
    gene = int(np.flatnonzero(copies == 2)[0])
    pred, _ = attribute(model, enc, gene)
    assert pred == pytest.approx(model.predict(torch.tensor([[gene]]))[0].item(), abs=1e-5)
    hits = planted_hits(seqs[gene], "upstream", {"planted": MOTIF})
    assert sorted(h["start"] for h in hits) == sites[gene]
    peaks, masses, shares = [], [], []
    for g in np.flatnonzero(copies > 0):
        track = attribute(model, enc, int(g))[1]["upstream"]
        # the peak at a motif's scale: the 10-bp stretch with the most |attribution|
        peak = int(np.convolve(np.abs(track), np.ones(10), "valid").argmax())
        peaks.append(any(abs(peak - s) <= 2 for s in sites[g]))
        mass, share = planted_mass(track, planted_hits(seqs[g], "upstream", {"planted": MOTIF}))
        masses.append(mass)
        shares.append(share)
    # motifs cover 8-17% of a window; by chance a stretch starts within 2 bp of one ~7% of the time
    assert np.mean(peaks) > 3 * np.mean(shares)
    assert np.mean(masses) > 1.5 * np.mean(shares)


def test_encoder_plugs_into_the_deepset_paths():
    seqs, *_ = synthetic(n=40, length=60)
    enc = SeqEncoder(40, ("upstream",), filters=4, width=12)
    enc.set_windows({"upstream": sequence_codes(seqs)})
    model = DeepSet(40, genes=enc, hidden=8)
    model.eval()
    pairs = torch.stack([torch.full((40,), 3), torch.arange(40)], 1)
    assert torch.allclose(model.scan(3, 40), model.predict(pairs), atol=1e-5)
    with pytest.raises(ValueError, match="no feature table"):
        model.set_features(torch.zeros(40, 8))
    model.train()                          # training: the encoder runs on the batch's genes only
    seen = []
    enc.register_forward_hook(lambda mod, inp, out: seen.append(len(inp[0])))
    model.predict(torch.tensor([[1, 2], [2, 5]]))
    assert seen == [3]


@pytest.fixture(scope="module")
def encoder_run(tiny_workspace, tmp_path_factory):
    """A copy of the tiny demo with one ``train --embedder encoder`` run (CLI, 1 epoch)."""
    from cre_core.cli import main

    root = tmp_path_factory.mktemp("encoder") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("cre_core.train")
    logger.addHandler(handler)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(["train", "--workspace", str(root), "--model", "deepset", "--embedder", "encoder",
                     "--split", "gene", "--epochs", "1", "--subset", "3000", "--encoder-filters", "6",
                     "--encoder-width", "12", "--hidden", "16", "--batch-size", "1024",
                     "--encoder-pretrain", "2"])
    logger.removeHandler(handler)
    assert code == 0
    return ws, json.loads(out.getvalue().strip().splitlines()[-1]), "\n".join(lines)


def test_train_embedder_encoder_on_the_tiny_demo(encoder_run, capsys):
    """``train --embedder encoder`` end to end, then ``motifs``, ``explain`` and ``export-encoder``."""
    from cre_core.cli import main
    from cre_core.demo.generate import PRESETS
    from cre_core.demo.world import planted_motifs
    from cre_core.embed.features import list_embeddings, load_features
    from cre_core.train.data import load_sets

    ws, summary, log = encoder_run
    args = ["--workspace", str(ws.root)]
    assert summary["status"] == "done" and summary["embedder"] == "encoder" and summary["n_test"] > 0
    assert "6 of 6 filters start from enriched words" in log
    assert "encoder pretraining 2/2 on" in log and "single mutants" in log
    assert re.search(r"encoder: [\d,]+ gene vectors cached in [\d.]+ s", log)
    run = summary["run_id"]

    assert main(["motifs", *args, "--run", run, "--top", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    planted = planted_motifs(PRESETS["tiny"], 0)
    assert report["n_planted"] == len(planted) == 2 * 12 + 1
    assert len(report["filters"]) == 4 and len(report["filters"][0]["pwm"]) == 12
    usage = [f["usage"] for f in report["filters"]]
    assert usage == sorted(usage, reverse=True)
    assert 0 <= report["fraction_recovered"] <= 1
    assert 0 <= report["recovered_by_listed"] <= min(4, report["recovered"])

    gene = load_sets(ws).genes[0]
    assert main(["explain", *args, "--run", run, "--gene", gene]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [len(r["scores"]) for r in result["regions"].values()] == [1003, 300]
    assert result["gene"] == gene and np.isfinite(result["predicted_fitness"])
    assert main(["explain", *args, "--run", run, "--gene", gene, "--tsv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 1003 + 300

    assert main(["explain", *args, "--run", run, "--gene", "NOSUCHGENE"]) == 2
    capsys.readouterr()

    assert main(["export-encoder", *args, "--run", run]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == [f"encoder/{run}/upstream.parquet",
                                                            f"encoder/{run}/downstream.parquet"]
    listed = list_embeddings(ws)
    assert set(listed.loc[listed["embedder"] == "encoder", "dim"]) == {12}
    genes, x = load_features(ws, "both", embedder="encoder", model=run)
    from cre_core.interpret.motifs import run_encoder
    loaded, enc = run_encoder(ws, run)
    rows = [loaded.index[g] for g in genes]
    assert enc.sense_view and enc.out_dim == 2 * x.shape[1]          # the DeepSet reads both views
    # [upstream | downstream] either-strand blocks
    assert np.allclose(x, enc.all().numpy()[rows][:, enc.trunk_columns], atol=1e-6)


def test_planted_motifs_replay_the_generator():
    from cre_core.demo.generate import PRESETS
    from cre_core.demo.world import build_world, planted_motifs

    world = build_world(PRESETS["tiny"], 3)
    named = planted_motifs(PRESETS["tiny"], 3)
    assert named["severity"] == world.severity_motif
    assert [named[f"module {m} upstream"] for m in range(12)] == world.up_motifs
    assert [named[f"module {m} downstream"] for m in range(12)] == world.down_motifs


def test_pages_show_attribution_and_logos(encoder_run, monkeypatch):
    """Query's Sequence tab draws both windows' tracks; Results shows the filters' logos."""
    from streamlit.testing.v1 import AppTest

    from cre_core.train.data import load_sets
    from dashboard.sequence import logo_frame

    ws, *_ = encoder_run
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    pages = Path(__file__).resolve().parents[2] / "pages"
    at = AppTest.from_file(str(pages / "query.py"), default_timeout=30)
    at.run(timeout=30)
    before = len(at.get("vega_lite_chart"))
    at.text_input(key="q_attr_gene").set_value(load_sets(ws).genes[0]).run(timeout=30)
    assert not at.exception and not at.error
    assert len(at.get("vega_lite_chart")) == before + 2             # upstream and downstream tracks
    assert any("planted motifs" in c.value for c in at.caption)
    # the height is the plot's (autosize fit-x: axes and legend come on top of it, they do not
    # squeeze it flat in a stretched chart) and the x axis spans the window, 1,003 / 300 bp
    tracks = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")[before:]]
    assert [t["autosize"]["type"] for t in tracks] == ["fit-x", "fit-x"]
    assert [t["layer"][1]["encoding"]["x"]["scale"]["domain"] for t in tracks] == [[0, 1002], [0, 299]]
    at = AppTest.from_file(str(pages / "results.py"), default_timeout=30)
    at.run(timeout=30)
    assert not at.exception and not at.error
    assert any("Motifs the sequence encoder learned" in h.value for h in at.subheader)
    assert any("planted motifs recovered" in c.value for c in at.caption)
    logos = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    logos = [spec for spec in logos if str(spec.get("title", "")).startswith("filter ")]
    assert logos and all(spec["autosize"]["type"] == "fit-x" and spec["height"] == 120 for spec in logos)

    logo = logo_frame([[0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25]])
    first = logo[logo["position"] == 1]
    assert first["top"].max() == pytest.approx(2 + 0.97 * np.log2(0.97) + 3 * 0.01 * np.log2(0.01))
    assert logo[logo["position"] == 2]["top"].max() == pytest.approx(0, abs=1e-9)


def test_gene_block_batches_cover_every_pair_once_and_touch_few_genes():
    from cre_core.train.loop import Engine

    rng = np.random.default_rng(0)
    a = rng.integers(0, 50, 2000)
    idx = torch.as_tensor(np.stack([a, (a + rng.integers(1, 50, 2000)) % 50], 1))
    model = build_model("mean", 50)
    engine = Engine(model, None, idx, torch.zeros(2000), batch_size=64, seed=1, gene_block=8)
    rows = torch.arange(2000)
    batches = engine.epoch_batches(rows, epoch=0)
    seen = torch.cat(batches)
    # every row once, except groups under 2 rows (BatchNorm) which are left out
    assert len(seen) == len(torch.unique(seen)) and len(seen) >= 1990
    assert all(len(b) <= 64 and len(torch.unique(idx[b])) <= 16 for b in batches)
    again = engine.epoch_batches(rows, epoch=0)
    assert all(torch.equal(x, y) for x, y in zip(batches, again))      # seeded: resume-safe


@pytest.mark.parametrize("name", ["wt-anchored", "wt-diff"])
def test_wild_type_models_read_the_encoder(name):
    seqs, *_ = synthetic(n=24, length=60)
    enc = SeqEncoder(24, ("upstream",), filters=4, width=12)
    enc.set_windows({"upstream": sequence_codes(seqs)})
    model = build_model(name, 24, hidden=8, genes=enc)
    assert model.encoder is enc
    sets = torch.tensor([[0, 1], [2, -1]])
    out = model(sets, torch.tensor([0.5, 0.9]))
    out["loss"].backward()
    assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0
    model.eval()
    if name == "wt-anchored":
        assert model.wt_prediction() == 1.0
    assert model.predict(sets).shape == (2,)


def test_words_assemble_into_one_seed_per_motif_on_either_strand():
    from cre_core.embed.word_seeds import assemble

    words = [MOTIF[1:9], revcomp(MOTIF[:8]), "ACGTTGCA", MOTIF[2:10]]
    seeds = assemble(words, width=15)
    assert [s.support for s in seeds] == [3, 1]
    assert seeds[0].consensus in (MOTIF, revcomp(MOTIF)) and seeds[1].consensus == "ACGTTGCA"
    # the seed never outgrows the filter: a 10-mer does not take words that would make it 11 bp
    assert [s.consensus for s in assemble([MOTIF[:8], MOTIF[2:10]], width=9)] == [MOTIF[:8], MOTIF[2:10]]


def test_sense_view_counts_the_gene_orientation_and_is_what_the_pair_map_reads():
    from cre_core.embed.word_seeds import SLACK, Seed, seed_filters
    from cre_core.train.config import TrainConfig
    from cre_core.train.data import model_from_config

    seqs = [f"TT{MOTIF}TTTT", f"TT{revcomp(MOTIF)}TTTT", "T" * 16]     # sense, antisense, none
    enc = SeqEncoder(3, ("upstream",), filters=2, width=12, sense_view=True)
    seed_filters(enc.weight, enc.bias, [Seed(MOTIF)])
    enc.set_windows({"upstream": sequence_codes(seqs)})
    enc.eval()
    raw = enc.raw_all()
    assert enc.out_dim == 8 and enc.pair_dim == 4                 # (max, top-k) × 2 filters × 2 views
    # the shared view reads the motif on either strand alike; the sense view only as the gene reads
    assert raw[0, 0] == pytest.approx(SLACK) and raw[1, 0] == pytest.approx(SLACK)
    assert raw[0, 4] == pytest.approx(SLACK) and raw[1, 4] < SLACK - 1 and raw[2, 4] == 0
    model = build_model("interaction", 3, hidden=8, rank=2, genes=enc)
    assert model.pair_map.in_features == 4 and model.phi[0].in_features == 4    # trunk: shared view
    assert torch.equal(model.pair_inputs(), enc.all()[:, 4:])
    with torch.no_grad():
        u = model.all_outputs()[:, 1:3]
        assert torch.allclose(u, model.pair_map(enc.all()[:, 4:])[:, :2])
    # the interaction model's features map gets the view (its trunk does not); runs saved before
    # it keep one view
    assert model_from_config(TrainConfig.of(model="interaction", embedder="encoder"), 3).genes.sense_view
    assert not model_from_config(TrainConfig.of(model="interaction", embedder="encoder", pair_from="trunk"),
                                 3).genes.sense_view
    old = {k: v for k, v in TrainConfig.of(model="interaction", embedder="encoder").to_dict().items()
           if k != "encoder_sense_view"}
    assert not TrainConfig.from_dict(old).uses_encoder_sense_view


def test_the_deepset_reads_the_sense_view_beside_either_strand():
    from cre_core.embed.word_seeds import SLACK, Seed, seed_filters
    from cre_core.train.config import TrainConfig
    from cre_core.train.data import model_from_config

    cfg = dict(model="deepset", embedder="encoder", features="upstream", encoder_filters=2, encoder_width=12)
    model = model_from_config(TrainConfig.of(**cfg), 3)
    enc = model.encoder
    assert isinstance(enc, SeqEncoder) and enc.sense_view
    assert enc.out_dim == 8 and model.phi[0].in_features == 8         # φ reads both views
    seed_filters(enc.weight, enc.bias, [Seed(MOTIF)])
    enc.set_windows({"upstream": sequence_codes([f"TT{MOTIF}TTTT", f"TT{revcomp(MOTIF)}TTTT", "T" * 16])})
    enc.eval()
    raw = enc.raw_all()
    # a copy on either strand reads alike in the shared view; the sense view tells them apart,
    # so the model can learn whether a motif's orientation towards the gene matters
    assert raw[0, 0] == raw[1, 0] == pytest.approx(SLACK)
    assert raw[0, 4] == pytest.approx(SLACK) and raw[1, 4] < SLACK - 1
    with torch.no_grad():
        assert model.predict(torch.tensor([[0], [1]])).unique().numel() == 2
    # off, and for runs saved before the option: the either-strand vector alone
    assert not model_from_config(TrainConfig.of(**cfg, encoder_sense_view=False), 3).encoder.sense_view
    old = {k: v for k, v in TrainConfig.of(**cfg).to_dict().items() if k != "encoder_sense_view"}
    assert not TrainConfig.from_dict(old).uses_encoder_sense_view
    assert model_from_config(TrainConfig.from_dict(old), 3).encoder.out_dim == 4


def test_seeded_filter_fires_on_its_word_and_one_mismatch_only():
    from cre_core.embed.word_seeds import SLACK, Seed, seed_filters

    enc = SeqEncoder(3, ("upstream",), filters=2, width=12)
    random_filter = enc.weight[1].clone()
    mutant = MOTIF[:4] + ("A" if MOTIF[4] != "A" else "C") + MOTIF[5:]
    two = mutant[:7] + ("A" if mutant[7] != "A" else "C") + mutant[8:]
    assert seed_filters(enc.weight, enc.bias, [Seed(MOTIF)]) == 1
    assert torch.equal(enc.weight[1], random_filter)          # filters beyond the seeds stay random
    codes = torch.as_tensor(sequence_codes([f"TT{s}TT" for s in (MOTIF, mutant, two)]))
    best = enc.activations(one_hot(codes))[0][:, :, 0].amax(1)
    assert torch.allclose(best, torch.tensor([SLACK, SLACK - 1, 0.0]))


def test_seed_words_finds_the_planted_motif_without_labels():
    seqs, *_ = synthetic()
    enc = SeqEncoder(len(seqs), ("upstream",), filters=8, width=12)
    enc.set_windows({"upstream": sequence_codes(seqs)})
    assert enc.seed_words() >= 1
    _, best = describe_filters(enc, {"planted": MOTIF, "decoy": DECOY})
    assert best["planted"] >= MATCH_THRESHOLD > best["decoy"]


def test_a_frozen_encoder_keeps_its_vectors_and_takes_no_gradient():
    seqs, *_ = synthetic(n=24, length=60)
    enc = SeqEncoder(24, ("upstream",), filters=4, width=12)
    enc.set_windows({"upstream": sequence_codes(seqs)})
    model = DeepSet(24, genes=enc, hidden=8)
    enc.freeze()
    model.train()
    assert not enc.training and model.phi.training
    before = enc.all()
    loss = model(torch.tensor([[0, 1], [2, -1]]), torch.tensor([0.5, 0.9]))["loss"]
    loss.backward()
    assert enc.weight.grad is None and model.phi[0].weight.grad is not None
    assert enc.all() is before                                  # cached once, reused by every step
