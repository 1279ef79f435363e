"""Which GO subsystems a DCell run moves for a genotype: ``cre explain-dcell`` and the Query page.

DCell's hidden units are named: each GO term is a subsystem whose output (its state) and head
(its own fitness prediction) can be read for any genotype (``DCell.term_states``). For a queried
set G of 1-3 deletions every term gets, against the wild type (no deletion):

- ``state_change``: RMS over the term's units of s_G − s_wt (units are tanh outputs, so 0-2;
  RMS, not the norm, so terms of different widths compare);
- ``head_change``: the term's head prediction for G minus its prediction for the wild type;
- ``interaction_change`` (2-3 genes): RMS of Σ_{S ⊆ G} (−1)^{|G|−|S|} s_S, the part of the
  term's change that the smaller deletion sets do not explain (s_ab − s_a − s_b + s_wt for a pair).
  It is exactly 0 in every term that holds only one of the genes: it lights up where the genes meet.
- ``genes_hit``: the queried genes annotated to the term or its descendants.

Terms that hold none of the genes see the wild type's input and do not move. The ranking
(``by``) is the interaction change for 2-3 genes and the state change for one gene: for a pair,
every term above either gene moves from that gene alone (the namespace roots and ROOT most, as
they integrate everything), while the terms where the two deletions combine are where a pair's
own effect lives. On the demo this ranks the planted module's term of a within-module pair among
the top 3 far more often than the raw state change does (bench/RESULTS.md, "DCell subsystem
explanation"). An ensemble of DCell members averages each score over members.

``subtree`` lays out the top terms and their ancestors as an icicle (a tree: a term under
several parents is drawn under the one that moved most), coordinates in [0, 1] per depth.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import torch

from cre_core.data.go import ROOT
from cre_core.errors import CreError
from cre_core.models.base import PAD
from cre_core.models.dcell import DCell, Ontology
from cre_core.models.ensemble import Ensemble
from cre_core.query.service import LoadedRun, load_model, resolve_set
from cre_core.train import specs
from cre_core.workspace import Workspace

SCORES = ("interaction", "state", "head")
MOVED = 1e-6          # a score below this is numerical noise: the term did not move
ROOT_NAME = "root (joins the GO namespaces)"


@dataclass
class Explanation:
    """One genotype's term scores (``terms``: every term of the run's ontology, ranked)."""

    run_id: str
    genes: list[str]
    names: list[str]
    predicted: float
    wild_type: float
    members: int
    by: str
    terms: pd.DataFrame
    ontology: Ontology

    def summary(self, top: int) -> dict:
        """What ``explain-dcell`` prints as JSON: the top moved terms and their icicle."""
        moved = self.terms[self.terms["moved"]]
        return {"run_id": self.run_id, "genes": self.genes, "names": self.names, "members": self.members,
                "predicted": self.predicted, "wild_type": self.wild_type, "by": self.by,
                "n_terms": len(self.terms), "n_moved": len(moved),
                "terms": moved.head(top).to_dict(orient="records"),
                "tree": subtree(self, top).to_dict(orient="records")}


def dcell_members(loaded: LoadedRun) -> list[DCell]:
    """The run's DCell model(s), or a CreError naming what the run is."""
    models = loaded.model.each() if isinstance(loaded.model, Ensemble) else [loaded.model]
    if not all(isinstance(m, DCell) for m in models):
        raise CreError(f"run {loaded.run_id} (model {loaded.config.model}) is not DCell: subsystem explanations "
                       "need a DCell run (train --model dcell)")
    return [cast(DCell, m) for m in models]


def dcell_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of a runs table (``runs_with_configs``) of models built over the GO hierarchy
    (DCell's: their term states explain a genotype)."""
    return runs[runs["model"].isin(specs.ontology_models())] if not runs.empty else runs


@torch.no_grad()
def _member_scores(model: DCell, sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(state change, head change, interaction change, root predictions) of one member;
    ``sets`` are every subset of the genotype, the empty set first and the genotype last."""
    k = len(sets[-1])
    idx = torch.full((len(sets), max(1, k)), PAD, dtype=torch.long)
    for i, genes in enumerate(sets):
        idx[i, :len(genes)] = torch.tensor(genes, dtype=torch.long)
    model.eval()
    states, heads = model.term_states(idx)
    signs = torch.tensor([(-1.0) ** (k - len(genes)) for genes in sets], dtype=torch.float64)
    state = np.empty(len(states))
    inter = np.empty(len(states))
    for t, units in enumerate(states):
        units = units.double()
        scale = units.shape[1] ** 0.5
        state[t] = float((units[-1] - units[0]).norm()) / scale
        inter[t] = float((signs @ units).norm()) / scale
    head = heads.double()
    root = model.ontology.root
    return state, (head[-1] - head[0]).numpy(), inter, head[:, root].numpy()


def explain_genotype(ws: Workspace, run_id: str, genes: list[str], by: str | None = None) -> Explanation:
    """Every GO term's state change from wild type for deleting ``genes`` (1-3), ranked.

    ``by``: ``interaction`` (default for 2-3 genes), ``state`` (default for one gene) or ``head``
    (|head change|). Raises CreError for a run that is not DCell, unknown genes or a bad set.
    """
    if by is not None and by not in SCORES:
        raise CreError(f"rank by one of {', '.join(SCORES)}; got {by!r}")
    loaded = load_model(ws, run_id)
    members = dcell_members(loaded)
    resolved, idx = resolve_set(ws, loaded, genes)
    by = by or ("state" if len(idx) == 1 else "interaction")
    if by == "interaction" and len(idx) == 1:
        raise CreError("one deleted gene has no interaction: rank by state or head")
    sets = [list(c) for n in range(len(idx) + 1) for c in itertools.combinations(idx, n)]
    parts = [_member_scores(m, sets) for m in members]
    state, head, inter, root = (np.mean([p[i] for p in parts], axis=0) for i in range(4))
    onto = members[0].ontology
    names = term_names(ws, onto.terms)
    gene_sets = onto.gene_sets()
    frame = pd.DataFrame({
        "term": onto.terms, "name": [names.get(t, "") for t in onto.terms],
        "level": onto.level, "genes": onto.size,
        "genes_hit": [",".join(loaded.names[g] for g in idx if g in gene_sets[t]) for t in range(len(onto.terms))],
        "state_change": state, "head_change": head,
        "interaction_change": inter if len(idx) > 1 else np.nan,
    })
    key = {"interaction": "interaction_change", "state": "state_change", "head": "head_change"}[by]
    frame["score"] = frame[key].abs()
    frame["moved"] = frame["state_change"] > MOVED
    frame = frame.sort_values(["moved", "score", "state_change"], ascending=False, kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return Explanation(loaded.run_id, resolved, [loaded.names[g] for g in idx], float(root[-1]),
                       float(root[0]), len(members), by, frame.reset_index(drop=True), onto)


def term_names(ws: Workspace, terms: list[str]) -> dict[str, str]:
    """GO names of ``terms`` from the store (the synthetic ROOT gets a descriptive name)."""
    con = ws.connect(read_only=True)
    try:
        rows = con.execute("SELECT go_id, name FROM go_terms WHERE go_id IN (SELECT unnest(?))",
                           [list(terms)]).fetchall()
    finally:
        con.close()
    return {ROOT: ROOT_NAME, **{t: n or "" for t, n in rows}}


def subtree(explanation: Explanation, top: int) -> pd.DataFrame:
    """The ``top`` moved terms and all their ancestors as an icicle, root first.

    Columns: term, name, parent (the drawn parent), other_parents (further parents in the
    subtree), depth, x0, x1 (leaves of the drawn tree get equal widths), in_top, and the scores.
    """
    onto = explanation.ontology
    terms = explanation.terms.set_index("term")
    pos = {t: i for i, t in enumerate(onto.terms)}
    parents: dict[int, list[int]] = {}
    for p, kids in enumerate(onto.children):
        for c in kids:
            parents.setdefault(c, []).append(p)
    chosen = [pos[t] for t in terms.index[terms["moved"]][:top]]
    keep: set[int] = set()
    stack = list(chosen)
    while stack:
        t = stack.pop()
        if t not in keep:
            keep.add(t)
            stack.extend(parents.get(t, []))
    if not keep:
        return pd.DataFrame(columns=["term", "name", "parent", "other_parents", "depth", "x0", "x1", "in_top",
                                     "state_change", "head_change", "interaction_change", "score"])
    score = terms["score"]
    drawn: dict[int, list[int]] = {}
    parent_of: dict[int, int | None] = {onto.root: None}
    for t in sorted(keep):
        ups = [p for p in parents.get(t, []) if p in keep]
        if ups:
            best = max(ups, key=lambda p: (score[onto.terms[p]], -p))
            parent_of[t] = best
            drawn.setdefault(best, []).append(t)
    rows: list[dict] = []

    def place(t: int, depth: int, x0: float) -> float:
        kids = sorted(drawn.get(t, []), key=lambda c: -score[onto.terms[c]])
        x = x0
        for c in kids:
            x = place(c, depth + 1, x)
        x1 = x if kids else x0 + 1
        up = parent_of.get(t)
        others = [q for q in parents.get(t, []) if q in keep and q != up]
        rows.append({"term": onto.terms[t], "parent": None if up is None else onto.terms[up],
                     "other_parents": len(others), "depth": depth, "x0": x0, "x1": x1})
        return x1

    width = place(onto.root, 0, 0.0)
    frame = pd.DataFrame(rows).sort_values(["depth", "x0"]).reset_index(drop=True)
    frame[["x0", "x1"]] /= width
    frame["in_top"] = frame["term"].isin([onto.terms[t] for t in chosen])
    cols = ["name", "state_change", "head_change", "interaction_change", "score"]
    return frame.join(terms[cols], on="term")[["term", "name", "parent", "other_parents", "depth", "x0", "x1",
                                                 "in_top", *cols[1:]]]
