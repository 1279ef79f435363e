"""SpeciesLM embedding benchmark: the authors' naive loop vs our batched embedder, same model.

Model: BERT-base in the SpeciesLM layout (12 layers, 768 hidden, 12 heads, SpeciesLM's
vocabulary), random weights, saved to a temporary folder and loaded the way users load theirs.
Windows: random 1003 bp (upstream) and 300 bp (downstream) sequences.

- baseline: the authors' notebook loop: one window at a time (batch 1), fp32, the masked LM
  with ``output_hidden_states``, mean of layers 8..12 then over tokens. Its tokens are prepared
  beforehand (not timed), as their notebook does with ``Dataset.map``.
- ours: ``SpeciesLMEmbedder.embed`` end to end (tokenising included): length-bucketed batches,
  SDPA attention, inference mode, bf16 autocast on CUDA, pinned-memory transfers.

Both sides get a warm-up first; CUDA timings synchronise before the clock stops.

    python bench/embed.py [--device auto|cpu|cuda] [--n N] [--n-ours N] [--batch-size B]

First prints a line for the k-mer embedder (6,000 genes x 2 regions, vs a plain-Python
``Counter`` loop on a sample), then one JSON line per SpeciesLM window length, 1003 bp last:
``{"name", "ours", "baseline", "unit": "seq/s", "ratio", ...}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cre_core.embed.base import Window  # noqa: E402
from cre_core.embed.specieslm import (  # noqa: E402
    DEFAULT_SPECIES,
    FIRST_LAYER,
    SpeciesLMEmbedder,
    save_random_model,
)
from cre_core.runtime import resolve_device  # noqa: E402


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    name = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.get_num_threads()} threads"


def windows(length: int, n: int, seed: int) -> list[Window]:
    rng = np.random.default_rng(seed)
    return [Window(f"W{i}", "".join(rng.choice(list("ACGT"), length))) for i in range(n)]


def naive_tokens(model_dir: Path, ws: list[Window]):
    """The authors' input: species token then the space-joined stride-1 6-mers, per window."""
    import torch

    vocab = {t: i for i, t in enumerate((model_dir / "vocab.txt").read_text().split())}
    out = []
    for w in ws:
        kmers = [w.sequence[i : i + 6] for i in range(len(w.sequence) - 5)]
        ids = [vocab["[CLS]"], vocab[DEFAULT_SPECIES], *(vocab[k] for k in kmers), vocab["[SEP]"]]
        out.append(torch.tensor([ids]))
    return out


def run_naive(model, tokens, device) -> tuple[float, np.ndarray]:
    import torch

    def one(ids):
        with torch.no_grad():
            states = model(ids.to(device), output_hidden_states=True)["hidden_states"]
        return torch.stack(states[FIRST_LAYER:]).mean(0).mean(1)[0].cpu().numpy()

    one(tokens[0])                                    # warm-up
    sync(device)
    started = time.perf_counter()
    vectors = [one(ids) for ids in tokens]
    sync(device)
    return time.perf_counter() - started, np.stack(vectors)


def run_ours(embedder: SpeciesLMEmbedder, ws: list[Window], region: str) -> tuple[float, np.ndarray]:
    embedder.embed(ws[: embedder.default_batch_size()], region)       # warm-up (and load)
    sync(embedder.device)
    started = time.perf_counter()
    vectors = embedder.embed(ws, region)
    sync(embedder.device)
    return time.perf_counter() - started, vectors


def kmer_line(n: int) -> dict:
    """The default CPU embedder on n upstream + n downstream windows vs a plain-Python counter."""
    from collections import Counter

    from cre_core.embed.kmer import KS, KmerEmbedder, projection

    up, down = windows(1003, n, seed=1), windows(300, n, seed=2)
    started = time.perf_counter()
    KmerEmbedder().embed(up, "upstream")
    KmerEmbedder().embed(down, "downstream")
    ours_s = time.perf_counter() - started

    index = {k: {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
             for k in KS}
    matrix = projection()
    sample = (up + down)[:: max(1, (2 * n) // 200)]          # the naive loop is slow: a sample
    started = time.perf_counter()
    for w in sample:                                          # what a first script would do
        parts = []
        for k in KS:
            counts = Counter(w.sequence[i : i + k] for i in range(len(w.sequence) - k + 1))
            vec = np.zeros(4**k, dtype=np.float32)
            for kmer, c in counts.items():
                if kmer in index[k]:
                    vec[index[k][kmer]] = c
            parts.append(vec * (2.0**k / max(vec.sum(), 1.0)))
        np.concatenate(parts) @ matrix
    base_s = time.perf_counter() - started
    ours, base = 2 * n / ours_s, len(sample) / base_s
    return {"name": f"embed_kmer_{n}x2", "ours": round(ours, 1), "baseline": round(base, 1),
            "unit": "seq/s", "ratio": round(ours / base, 1), "seconds_ours": round(ours_s, 2),
            "device": machine("cpu"), "load_avg_1m": round(os.getloadavg()[0], 2)}


def sync(device: str) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--n", type=int, help="windows for the naive loop (default 6 on CPU, 300 on CUDA)")
    parser.add_argument("--n-ours", type=int, help="windows for ours (default = --n on CPU, 8192 on CUDA)")
    parser.add_argument("--batch-size", type=int, help="our batch size (default 64 on CUDA, 8 on CPU)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="ours: auto = bf16 autocast on CUDA, fp32 on CPU")
    parser.add_argument("--lengths", default="300,1003", help="window lengths, the headline last")
    parser.add_argument("--kmer-genes", type=int, default=6000,
                        help="genes for the k-mer line printed first (0: skip it)")
    args = parser.parse_args()

    import torch
    from transformers import BertForMaskedLM

    if args.kmer_genes:
        print(json.dumps(kmer_line(args.kmer_genes)), flush=True)
    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    n = args.n or (300 if cuda else 6)
    n_ours = args.n_ours or (8192 if cuda else n)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_random_model(Path(tmp) / "specieslm_base", seed=0)   # BERT-base
        naive_model = BertForMaskedLM.from_pretrained(model_dir).eval().to(device)   # fp32
        ours = SpeciesLMEmbedder(str(model_dir), regions=["upstream", "downstream"], device=device,
                                 batch_size=args.batch_size, precision=args.precision)
        for length in (int(x) for x in args.lengths.split(",")):
            region = "upstream" if length > 300 else "downstream"
            mine = windows(length, max(n_ours, n), seed=length)
            base_s, base_v = run_naive(naive_model, naive_tokens(model_dir, mine[:n]), device)
            ours_s, ours_v = run_ours(ours, mine[:n_ours], region)
            diff = float(np.abs(ours_v[:n] - base_v).max())
            ours_rate, base_rate = n_ours / ours_s, n / base_s
            print(json.dumps({
                "name": f"embed_specieslm_{length}bp", "ours": round(ours_rate, 2),
                "baseline": round(base_rate, 2), "unit": "seq/s",
                "ratio": round(ours_rate / base_rate, 2), "device": machine(device),
                "n_baseline": n, "n_ours": n_ours, "batch_size": ours.default_batch_size(),
                "precision": args.precision if args.precision != "auto" else
                ("bf16-autocast" if cuda else "fp32"),
                "max_abs_diff_vs_baseline": round(diff, 6), "torch": torch.__version__,
                "load_avg_1m": round(os.getloadavg()[0], 2),   # other work on the machine
            }), flush=True)


if __name__ == "__main__":
    main()
