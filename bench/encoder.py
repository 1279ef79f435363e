"""The trainable sequence encoder on the demo: accuracy beside its controls, motifs, speed.

``science``: for each seed, a ``small`` demo workspace; for each split, the DeepSet trained
with ``--embedder encoder``, ``kmer`` and ``random`` (the control) on the same split, and the
split's ceiling beside them: the Pearson r between the measured double-mutant fitness of the
test pairs and the best a per-gene sequence reading can predict, exp(-σ_a)·exp(-σ_b), with σ
each gene's planted deletion severity (table ``demo_truth``; the generator's noise on σ is
included, so the ceiling is slightly generous). For the encoder runs: motif recovery (share of
planted module and severity motifs some filter matches at ≥ 0.75) and the attribution mass on
planted motif positions vs their share of the windows, over the test genes with motifs.

``speed``: (1) encoding every window of a full-preset-sized genome (6,000 genes × 1,003 +
300 bp of demo-like sequence), encoder (eval, one pass) beside the kmer embedder on the same
windows; (2) attribution of one gene, gradient×input (ours) beside in-silico mutagenesis
(3 × 1,303 mutants, batched); (3) one training step of the DeepSet on the encoder over all
6,000 genes (checkpointed chunks); the process's peak RSS at the end. One epoch of the
``small`` demo is read from the science runs (random split, seconds of epoch 1).

    python bench/encoder.py science --seeds 0 1 --splits gene random
    python bench/encoder.py speed [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cre_core.demo.commands import build_demo
from cre_core.embed.seq_encoder import one_hot
from cre_core.models import DeepSet, SeqEncoder
from cre_core.train.config import ENCODER_INITS, TrainConfig
from cre_core.workspace import Workspace

ENCODER = dict(encoder_filters=128, encoder_width=15, encoder_block=32, batch_size=512, lr=3e-3,
               weight_decay=0.1)
TABLE = dict(batch_size=512)


def by_size(ws: Workspace, run_dir: Path) -> dict[int, tuple[float, float, int]]:
    """Per set size: (r of the model, ceiling r, number of test sets). Ceiling: r(measured
    fitness, prod exp(-σ_g)) over the set's genes, σ the planted severity (``demo_truth``)."""
    import pandas as pd

    pred = pd.read_parquet(run_dir / "predictions.parquet",
                           columns=["n_genes", "gene_a", "gene_b", "gene_c", "true", "predicted"])
    con = ws.connect(read_only=True)
    try:
        sigma = dict(con.execute("SELECT gene, severity FROM demo_truth").fetchall())
    finally:
        con.close()
    total = sum(pred[c].map(sigma).fillna(0.0).to_numpy(float) for c in ("gene_a", "gene_b", "gene_c"))
    best = np.exp(-total)
    out = {}
    for size, part in pred.groupby("n_genes"):
        true = part["true"].to_numpy(float)
        out[int(size)] = (float(np.corrcoef(true, part["predicted"])[0, 1]),
                          float(np.corrcoef(true, best[part.index])[0, 1]), len(part))
    return out


def attribution_mass(ws: Workspace, run_id: str, genes: list[str]) -> tuple[float, float]:
    """Mean (share of |attribution| on planted motifs, their share of the window) over genes."""
    from cre_core.interpret.attribution import explain

    mass, share = [], []
    for g in genes:
        result = explain(ws, run_id, g, top_filters=0)
        for r in result["regions"].values():
            if r["planted_share"] > 0:
                mass.append(r["planted_mass"])
                share.append(r["planted_share"])
    return float(np.mean(mass)), float(np.mean(share))


def science(args: argparse.Namespace) -> None:
    from cre_core.interpret.motifs import motif_report
    from cre_core.train.loop import train_run

    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench-encoder-"))
    rows = []
    for seed in args.seeds:
        ws_root = root / f"{args.preset}{seed}"
        if not (ws_root / "cre.duckdb").exists():
            build_demo(ws_root, preset=args.preset, seed=seed)
        ws = Workspace(ws_root)
        for split in args.splits:
            for embedder in args.embedders:
                extra = (dict(ENCODER, dropout=args.dropout, encoder_block=args.block,
                              encoder_filters=args.filters, encoder_init=args.init, lr=args.lr,
                              weight_decay=args.weight_decay, encoder_pretrain=args.pretrain,
                              encoder_lr=args.encoder_lr, encoder_sense_view=args.sense_view)
                         if embedder == "encoder" else TABLE)
                cfg = TrainConfig.of(model="deepset", embedder=embedder, split=split, features="both",
                                  epochs=args.epochs, patience=args.patience, seed=args.model_seed, split_seed=seed,
                                  **extra)
                run_dir = ws_root / "runs" / f"{embedder}-{split}-{time.strftime('%H%M%S')}"
                t0 = time.perf_counter()
                summary = train_run(ws, cfg, run_dir, echo=lambda m: print(m, file=sys.stderr, flush=True))
                epochs = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
                sizes = by_size(ws, run_dir)
                row = {"seed": seed, "model_seed": cfg.seed, "split": split, "embedder": embedder,
                       **({"filters": cfg.encoder_filters, "init": cfg.encoder_init, "dropout": cfg.dropout,
                           "lr": cfg.lr, "wd": cfg.weight_decay, "pretrain": cfg.encoder_pretrain,
                           "encoder_lr": cfg.encoder_lr, "sense_view": cfg.uses_encoder_sense_view}
                          if embedder == "encoder" else {}),
                       "r": sizes[2][0], "ceiling": sizes[2][1], "r_singles": sizes[1][0],
                       "r_triples": sizes.get(3, (None,))[0], "r_all": summary["pearson"],
                       "eps_r": summary["eps_pearson"],
                       "epochs": summary["epochs_run"], "best_epoch": summary["best_epoch"],
                       "epoch_s": epochs[0]["seconds"], "n_train": summary["n_train"],
                       "seconds": round(time.perf_counter() - t0, 1)}
                if embedder == "encoder":
                    report = motif_report(ws, summary["run_id"], top=0)
                    row["motifs_recovered"] = f"{report['recovered']}/{report['n_planted']}"
                    import pandas as pd
                    test = pd.read_parquet(run_dir / "predictions.parquet", columns=["gene_a", "gene_b"])
                    con = ws.connect(read_only=True)
                    try:
                        truth = con.execute("SELECT gene FROM demo_truth WHERE module >= 0").fetchall()
                        in_module = {g for (g,) in truth}
                    finally:
                        con.close()
                    genes = sorted(set(test["gene_a"]) & in_module)[: args.attribution_genes]
                    row["attr_mass"], row["attr_share"] = attribution_mass(ws, summary["run_id"], genes)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(json.dumps({"name": "encoder-science", "rows": rows, "workdir": str(root)}))


def demo_like_codes(n_genes: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(4, size=(n_genes, length), p=[0.32, 0.18, 0.18, 0.32]).astype(np.uint8)


def speed(args: argparse.Namespace) -> None:
    from cre_core.embed.base import Window
    from cre_core.embed.registry import make_embedder

    torch.manual_seed(0)
    n = args.genes
    codes = {"upstream": demo_like_codes(n, 1003, 1), "downstream": demo_like_codes(n, 300, 2)}
    # the views the product's DeepSet reads (--encoder-sense-view's default)
    views = dict(filters=args.filters, width=args.width,
                 sense_view=TrainConfig.of(model="deepset", embedder="encoder").uses_encoder_sense_view)
    enc = SeqEncoder(n, ("upstream", "downstream"), **views)
    enc.set_windows(codes)
    enc.eval()
    device = torch.device(args.device)
    if device.type == "cuda":        # the GPU row: encoding only, bf16 as in training
        gpu = SeqEncoder(n, enc.regions, **views).to(device).eval()
        gpu.set_windows(codes)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            gpu.all()
            gpu._cache = None
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            gpu.all()
            torch.cuda.synchronize()
        print(json.dumps({"name": "encode-all-genes-gpu", "genes": n, "ours_s": round(time.perf_counter() - t0, 3),
                          "device": torch.cuda.get_device_name(device)}), flush=True)
    t0 = time.perf_counter()
    enc.all()
    ours = time.perf_counter() - t0
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    windows = [Window(f"G{i}", letters[codes["upstream"][i]].tobytes().decode()) for i in range(n)]
    kmer = make_embedder("kmer", None, regions=["upstream"], device="cpu")
    t0 = time.perf_counter()
    kmer.embed(windows, "upstream")
    base = time.perf_counter() - t0
    print(json.dumps({"name": "encode-all-genes", "genes": n, "ours_s": round(ours, 2),
                      "baseline": "kmer (upstream only)", "baseline_s": round(base, 2)}), flush=True)

    model = DeepSet(n, genes=enc, hidden=128)
    from cre_core.interpret.attribution import attribute

    model.eval()
    attribute(model, enc, 0)
    t0 = time.perf_counter()
    for g in range(1, 11):
        attribute(model, enc, g)
    grad_s = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    with torch.no_grad():   # in-silico mutagenesis of gene 0: every position to its 3 other bases
        variants = []
        for region in enc.regions:
            x = one_hot(enc.codes(region)[0:1])[0]
            reps = x.repeat(3 * len(x), 1, 1)
            pos = torch.arange(len(x)).repeat_interleave(3)
            base = (x.argmax(1).repeat_interleave(3) + torch.arange(1, 4).repeat(len(x))) % 4
            reps[torch.arange(len(reps)), pos] = torch.nn.functional.one_hot(base, 4).float()
            variants.append((region, reps))
        for region, reps in variants:
            others = [one_hot(enc.codes(r)[0:1]).expand(256, -1, -1) for r in enc.regions]
            for s in range(0, len(reps), 256):
                part = reps[s:s + 256]
                xs = [part if r == region else o[:len(part)] for r, o in zip(enc.regions, others)]
                vec = enc.encode_onehot(xs)
                model.predict_features(vec.unsqueeze(1), torch.ones(len(part), 1, dtype=torch.bool))
    ism_s = time.perf_counter() - t0
    print(json.dumps({"name": "attribution-one-gene", "ours": "gradient x input", "ours_s": round(grad_s, 3),
                      "baseline": "in-silico mutagenesis", "baseline_s": round(ism_s, 2)}), flush=True)

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.stack([torch.arange(n), torch.arange(n).roll(1)], 1)[: args.step_pairs]
    t0 = time.perf_counter()
    loss = model(idx, torch.rand(len(idx)))["loss"]
    opt.zero_grad()
    loss.backward()
    opt.step()
    step_s = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(json.dumps({"name": "train-step-all-genes", "genes": n, "pairs": len(idx), "seconds": round(step_s, 2),
                      "peak_rss_gb": round(peak_gb, 2), "threads": torch.get_num_threads()}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sc = sub.add_parser("science")
    sc.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    sc.add_argument("--preset", default="small", help="demo preset (tiny: a smoke test)")
    sc.add_argument("--splits", nargs="+", default=["gene", "random"])
    sc.add_argument("--embedders", nargs="+", default=["encoder", "kmer", "random"])
    sc.add_argument("--epochs", type=int, default=30)
    sc.add_argument("--patience", type=int, default=5)
    sc.add_argument("--attribution-genes", type=int, default=30)
    sc.add_argument("--dropout", type=float, default=0.0, help="dropout in φ and ρ of the encoder runs")
    sc.add_argument("--block", type=int, default=ENCODER["encoder_block"], help="--encoder-block of the encoder runs")
    sc.add_argument("--filters", type=int, default=ENCODER["encoder_filters"], help="--encoder-filters")
    sc.add_argument("--init", default=ENCODER_INITS[0], choices=ENCODER_INITS, help="--encoder-init")
    sc.add_argument("--lr", type=float, default=ENCODER["lr"], help="learning rate of the encoder runs")
    sc.add_argument("--weight-decay", type=float, default=ENCODER["weight_decay"])
    sc.add_argument("--pretrain", type=int, default=20, help="--encoder-pretrain")
    sc.add_argument("--encoder-lr", type=float, default=0.1, help="--encoder-lr")
    sc.add_argument("--sense-view", action=argparse.BooleanOptionalAction, default=True,
                    help="--encoder-sense-view (the DeepSet also reads the sense-strand pooling)")
    sc.add_argument("--model-seed", type=int, default=0, help="--seed of every run (the split's is the demo seed)")
    sc.add_argument("--workdir", help="reuse demo workspaces here (default: a new temporary folder)")
    sp = sub.add_parser("speed")
    sp.add_argument("--genes", type=int, default=6000)
    sp.add_argument("--filters", type=int, default=ENCODER["encoder_filters"])
    sp.add_argument("--width", type=int, default=ENCODER["encoder_width"])
    sp.add_argument("--step-pairs", type=int, default=4096)
    sp.add_argument("--device", default="cpu", help="cuda: also time the encoding on the GPU")
    args = parser.parse_args()
    science(args) if args.what == "science" else speed(args)


if __name__ == "__main__":
    main()
