"""The sequence encoder's first-layer filters as motifs, matched against the demo's planted ones.

A filter's PWM is read from the windows it fires on, not from its raw weights (which carry an
arbitrary scale and bias): every site where the filter's activation reaches ``SITE_FRACTION``
of its largest activation over all genes contributes its one-hot subsequence (reverse
complemented when the filter fired on the minus strand), weighted by the activation; the sum,
normalised per column, is a position probability matrix (width × ACGT).

A filter's *usage* is the standard deviation over genes of its max-pooled activation: a filter
that fires on every gene alike, or on none, tells the model nothing.

Match score of a PWM and a planted motif: the best, over offsets and both strands of the motif,
of the mean Pearson correlation between the PWM's columns and the motif's one-hot columns (a
motif column falling outside the filter counts 0). 1.0 is a perfect match; a planted motif
counts as *recovered* when some filter that fires matches it with at least ``MATCH_THRESHOLD``
(any filter, not only the listed ones; ``recovered_by_listed`` is the stricter count over the
``top`` most used filters, each counted for its best match only). With ``--encoder-init enriched``
most seeds match a motif before any training: compare with the untrained seeds
(bench/RESULTS.md) before crediting training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from cre_core.embed.seq_encoder import BASES, CHUNK_GENES, SeqEncoder, one_hot
from cre_core.errors import CreError
from cre_core.workspace import Workspace

SITE_FRACTION = 0.5        # a site: activation ≥ this share of the filter's maximum
MATCH_THRESHOLD = 0.75     # mean column Pearson for a planted motif to count as recovered
MAX_OVERHANG = 3           # motif columns allowed to fall outside the filter when aligning


@dataclass
class FilterMotif:
    """One filter read as a motif: its PWM, how much it is used, and its best planted match."""

    filter: int
    usage: float
    sites: int
    pwm: list[list[float]]            # width rows of (A, C, G, T) probabilities
    consensus: str
    match: str | None = None          # name of the best-matching planted motif
    match_motif: str | None = None
    match_score: float | None = None
    match_offset: int | None = None   # motif start within the filter (may be negative)
    match_strand: str | None = None   # "+" or "-" (the motif's reverse complement matched)


def filter_usage(encoder: SeqEncoder) -> np.ndarray:
    """(filters,) std over genes of each filter's max-pooled activation, summed over regions."""
    vectors = encoder.raw_all().cpu().numpy()
    f = encoder.filters
    maxima = [vectors[:, 2 * f * r: 2 * f * r + f] for r in range(len(encoder.regions))]
    return np.sum([m.std(0) for m in maxima], axis=0)


@torch.no_grad()
def filter_pwms(encoder: SeqEncoder, genes: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(PWMs (filters, width, 4), site counts (filters,)) by activation-weighted alignment."""
    encoder.eval()
    f, w = encoder.filters, encoder.width
    if genes is None:
        genes = torch.arange(encoder.n_genes, device=encoder.bias.device)
    peak = torch.zeros(f, device=encoder.bias.device)
    for region in encoder.regions:        # pass 1: each filter's largest activation
        for start in range(0, len(genes), CHUNK_GENES):
            act, _ = encoder.activations(one_hot(encoder.codes(region)[genes[start:start + CHUNK_GENES]]))
            peak = torch.maximum(peak, act.float().amax((0, 1)))
    threshold = (SITE_FRACTION * peak).clamp(min=1e-6)
    total = torch.zeros(f, 4, w, dtype=torch.float64, device=peak.device)
    sites = torch.zeros(f, dtype=torch.long, device=peak.device)
    for region in encoder.regions:        # pass 2: align the sites
        for start in range(0, len(genes), CHUNK_GENES):
            x = one_hot(encoder.codes(region)[genes[start:start + CHUNK_GENES]])
            act, rev = encoder.activations(x)
            act = act.float()
            g, t, k = (act >= threshold).nonzero(as_tuple=True)
            if len(g) == 0:
                continue
            sub = x.unfold(1, w, 1)[g, t]                       # (n, 4, w)
            flip = rev[g, t, k]
            sub = torch.where(flip[:, None, None], sub.flip(1, 2), sub)
            total.index_add_(0, k, (sub * act[g, t, k][:, None, None]).double())
            sites += torch.bincount(k, minlength=f)
    pwm = total.transpose(1, 2).cpu().numpy() + 1e-3           # (f, w, 4), a small pseudo-count
    return (pwm / pwm.sum(-1, keepdims=True)).astype(np.float32), sites.cpu().numpy()


def motif_onehot(motif: str) -> np.ndarray:
    return np.array([[1.0 if b == base else 0.0 for base in BASES] for b in motif])


def _column_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of matching rows of (n, 4) arrays (0 where a row is constant)."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.divide((a * b).sum(1), den, out=np.zeros(len(a)), where=den > 0)


def match_score(pwm: np.ndarray, motif: str) -> tuple[float, int, str]:
    """(score, offset, strand) of the best alignment of ``motif`` to ``pwm`` (module docstring)."""
    width, n = pwm.shape[0], len(motif)
    best = (-1.0, 0, "+")
    for strand, onehot in (("+", motif_onehot(motif)), ("-", motif_onehot(motif)[::-1, ::-1])):
        for offset in range(-MAX_OVERHANG, width - n + MAX_OVERHANG + 1):
            cols = [j for j in range(n) if 0 <= offset + j < width]
            score = float(_column_pearson(pwm[[offset + j for j in cols]], onehot[cols]).sum() / n)
            if score > best[0]:
                best = (score, offset, strand)
    return best


def consensus(pwm: np.ndarray) -> str:
    """The most probable base per column; lower case where it has under half the mass."""
    return "".join(BASES[i] if p[i] >= 0.5 else BASES[i].lower() for p, i in zip(pwm, pwm.argmax(1)))


def describe_filters(encoder: SeqEncoder, planted: dict[str, str] | None = None
                     ) -> tuple[list[FilterMotif], dict[str, float | None]]:
    """Every filter as a FilterMotif, most used first, each with its best planted match; and
    per planted motif the best score any filter that fired reaches on it (None: none fired)."""
    usage = filter_usage(encoder)
    pwms, sites = filter_pwms(encoder)
    planted = planted or {}
    names = list(planted)
    fired = np.flatnonzero(sites > 0)
    scores = {(k, n): match_score(pwms[k], planted[n]) for k in fired for n in names}
    out = []
    for k in np.argsort(-usage):
        item = FilterMotif(int(k), float(usage[k]), int(sites[k]), pwms[k].round(4).tolist(), consensus(pwms[k]))
        if names and sites[k] > 0:
            name = max(names, key=lambda n: scores[k, n][0])
            score, offset, strand = scores[k, name]
            item.match, item.match_motif = name, planted[name]
            item.match_score, item.match_offset, item.match_strand = round(score, 4), offset, strand
        out.append(item)
    best = {n: (round(max(scores[k, n][0] for k in fired), 4) if len(fired) else None) for n in names}
    return out, best


def workspace_motifs(ws: Workspace) -> dict[str, str] | None:
    """The planted motifs of a demo workspace (from its preset and seed); None for real data."""
    from cre_core.data.store import get_meta
    from cre_core.demo.generate import PRESETS
    from cre_core.demo.world import planted_motifs

    con = ws.connect(read_only=True)
    try:
        meta = get_meta(con)
    finally:
        con.close()
    preset, seed = meta.get("demo_preset"), meta.get("demo_seed")
    if preset not in PRESETS or seed is None:
        return None
    return planted_motifs(PRESETS[preset], int(seed))


def run_encoder(ws: Workspace, run_id: str):
    """(loaded run, its SeqEncoder) from the query service's cache; CreError for other runs."""
    from cre_core.query.service import load_model

    loaded = load_model(ws, run_id)
    encoder = loaded.model.representation()
    if not isinstance(encoder, SeqEncoder):
        raise CreError(f"run {loaded.run_id} does not use the sequence encoder (train with --embedder encoder)")
    return loaded, encoder


def motif_report(ws: Workspace, run_id: str, top: int = 20,
                 threshold: float = MATCH_THRESHOLD) -> dict:
    """The ``top`` most used filters as PWMs with their best planted match, and on a demo
    workspace the share of planted motifs some filter recovers (score ≥ ``threshold``)."""
    loaded, encoder = run_encoder(ws, run_id)
    planted = workspace_motifs(ws)
    filters, best = describe_filters(encoder, planted)
    report: dict = {"run_id": loaded.run_id, "filters": [asdict(f) for f in filters[:top]],
                    "n_filters": encoder.filters, "width": encoder.width, "threshold": threshold}
    if planted:
        hits = [n for n, s in best.items() if s is not None and s >= threshold]
        # the stricter count: motifs that are the best match of one of the listed (most used) filters
        listed = {f.match for f in filters[:top] if f.match_score is not None and f.match_score >= threshold}
        report.update(planted={n: {"motif": planted[n], "best_score": best[n]} for n in planted},
                      recovered=len(hits), n_planted=len(planted), fraction_recovered=len(hits) / len(planted),
                      recovered_by_listed=len(listed))
    return report
