"""Per-base attribution of a gene's predicted deletion fitness to its CRE windows.

Gradient × input on the one-hot windows, with the gradient centred over the four bases at each
position first (so a position's score does not depend on an arbitrary offset shared by all four
letters; Majdandzic et al. 2023): score[t] = g[t, b_t] − mean_b g[t, b]. One forward and one
backward pass per gene (in-silico mutagenesis would need 3 × 1,303 passes). The output is the
model's prediction for the single deletion {gene}; a negative score is a base whose presence
lowers the predicted fitness (a severity motif's, on the demo).

Motif hits reported beside the tracks: the encoder's filter sites (activation at least half of
the filter's largest over all genes) and, on a demo workspace, the planted motifs found in the
window on either strand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from cre_core.embed.seq_encoder import BASES, N_CODE, SeqEncoder, one_hot
from cre_core.errors import CreError
from cre_core.interpret.motifs import SITE_FRACTION, filter_usage, workspace_motifs
from cre_core.workspace import Workspace


def attribute(model, encoder: SeqEncoder, gene: int) -> tuple[float, dict[str, np.ndarray]]:
    """(predicted single-deletion fitness, {region: per-position scores (L,)}) for gene index."""
    if not hasattr(model, "predict_features"):
        raise CreError(f"attribution needs a DeepSet-style model; {type(model).__name__} has no per-gene path")
    model.eval()
    onehots = [one_hot(encoder.codes(r)[gene:gene + 1]).requires_grad_(True) for r in encoder.regions]
    with torch.enable_grad():
        vec = encoder.encode_onehot(onehots)
        mask = torch.ones(1, 1, dtype=torch.bool, device=vec.device)
        pred = model.predict_features(vec.unsqueeze(1), mask).float().sum()
        grads = torch.autograd.grad(pred, onehots)
    out = {}
    for region, x, g in zip(encoder.regions, onehots, grads):
        centred = g[0] - g[0].mean(-1, keepdim=True)
        out[region] = (centred * x[0].detach()).sum(-1).cpu().numpy().astype(np.float64)
    return float(pred.detach()), out


@torch.no_grad()
def filter_hits(encoder: SeqEncoder, gene: int, filters: list[int]) -> list[dict]:
    """Sites of ``filters`` in the gene's windows (activation ≥ SITE_FRACTION of the filter's
    largest max-pooled activation over all genes)."""
    f = encoder.filters
    vectors = encoder.raw_all()
    hits = []
    for r, region in enumerate(encoder.regions):
        peak = vectors[:, 2 * f * r: 2 * f * r + f].amax(0)
        act, rev = encoder.activations(one_hot(encoder.codes(region)[gene:gene + 1]))
        for k in filters:
            for t in torch.nonzero(act[0, :, k] >= max(float(peak[k]) * SITE_FRACTION, 1e-6)).flatten().tolist():
                hits.append({"region": region, "start": int(t), "end": int(t) + encoder.width,
                             "kind": "filter", "name": f"filter {k}", "strand": "-" if bool(rev[0, t, k]) else "+",
                             "score": round(float(act[0, t, k]), 4)})
    return hits


def planted_hits(sequence: str, region: str, planted: dict[str, str]) -> list[dict]:
    """Exact occurrences of the planted motifs (either strand) in a window."""
    from cre_core.genome.dna import reverse_complement as revcomp

    hits = []
    for name, motif in planted.items():
        for strand, m in (("+", motif), ("-", revcomp(motif))):
            start = sequence.find(m)
            while start >= 0:
                hits.append({"region": region, "start": start, "end": start + len(m), "kind": "planted",
                             "name": name, "strand": strand, "score": None})
                start = sequence.find(m, start + 1)
    return hits


def decode(codes: torch.Tensor) -> str:
    """uint8 codes → sequence (N for anything that is not A, C, G or T)."""
    letters = np.frombuffer((BASES + "N").encode(), dtype=np.uint8)
    return letters[codes.cpu().numpy().clip(0, N_CODE)].tobytes().decode()


def planted_mass(scores: np.ndarray, hits: list[dict]) -> tuple[float, float]:
    """(share of |attribution| on planted motif positions, share of the window they cover)."""
    on = np.zeros(len(scores), dtype=bool)
    for h in hits:
        on[h["start"]:h["end"]] = True
    total = float(np.abs(scores).sum())
    return (float(np.abs(scores[on]).sum()) / total if total > 0 else 0.0), float(on.mean())


def explain(ws: Workspace, run_id: str, gene: str, top_filters: int = 10) -> dict:
    """Attribution tracks, filter and planted-motif hits, and planted mass of one gene."""
    from cre_core.data.lookup import resolve_genes
    from cre_core.interpret.motifs import run_encoder
    from cre_core.query.service import _indices

    loaded, encoder = run_encoder(ws, run_id)
    con = ws.connect(read_only=True)
    try:
        systematic = resolve_genes(con, [gene])[0]
    finally:
        con.close()
    gi = _indices(loaded, [systematic])[0]
    pred, scores = attribute(loaded.model, encoder, gi)
    used = [int(k) for k in np.argsort(-filter_usage(encoder))[:top_filters]]
    hits = filter_hits(encoder, gi, used)
    planted = workspace_motifs(ws)
    regions = {}
    for region in encoder.regions:
        sequence = decode(encoder.codes(region)[gi])
        region_hits = planted_hits(sequence, region, planted) if planted else []
        hits += region_hits
        entry: dict[str, Any] = {"sequence": sequence,
                                 "scores": [round(v, 6) for v in scores[region].tolist()]}
        if planted:
            entry["planted_mass"], entry["planted_share"] = planted_mass(scores[region], region_hits)
        regions[region] = entry
    return {"run_id": loaded.run_id, "gene": systematic, "name": loaded.names[gi],
            "predicted_fitness": pred, "regions": regions, "hits": hits}


def explain_frame(result: dict) -> pd.DataFrame:
    """One row per window position: region, position, base, score (the ``--tsv`` output)."""
    return pd.concat([pd.DataFrame({"region": region, "position": np.arange(len(r["scores"])),
                                    "base": list(r["sequence"]), "score": r["scores"]})
                      for region, r in result["regions"].items()], ignore_index=True)
