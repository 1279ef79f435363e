"""The Gene Ontology for DCell: ``go-basic.obo`` terms and edges, SGD's GAF annotations, and
the one :class:`Ontology` (kept terms and their wiring) that ``build_ontology`` derives from them.

Term construction (``build_ontology``), the rules chosen here:

1. Terms: every non-obsolete GO term given (all three namespaces unless the caller filters).
   Edges: ``is_a`` and ``part_of`` (child → parent), both treated as containment.
2. Annotations: every (gene, term) pair given (the ingest already drops ``NOT`` qualifiers;
   ``train.data.load_ontology`` also leaves out IGI evidence, as the paper did: inferred from
   genetic interaction, the very data DCell is trained on) is propagated upward: a gene
   annotated to a term belongs to all of its ancestors. With ``counted`` (the genes the training
   data delete) only those genes count: a gene that no genotype deletes is a constant input, so
   it neither sizes a term nor feeds one (Ma et al., Nat. Methods 2018, Methods: terms with
   fewer than six of the training genes are left out; docs/dcell.md).
3. Size filter: keep terms with at least ``min_genes`` genes after propagation (default 6).
   Genes of dropped small terms reach the model through their nearest kept ancestor.
4. Collapse redundancy: a kept term whose gene set equals the gene set of one of its kept
   children is removed; its children attach to its kept parents (chains of identical sets
   keep only the lowest term).
5. The DAG between kept terms links each term to its nearest kept ancestors. When more than one
   root remains (e.g. the three GO namespaces) a synthetic ``ROOT`` term joins them.
6. A term's gene inputs are its genes not covered by any kept child (the genes "directly"
   annotated at that level after steps 2-4); unannotated genes are invisible to DCell (a pair
   with one of them is predicted from the other gene alone), as in the paper.
7. Levels: leaves are level 0; a term's level is one more than its highest child. Terms run
   leaves → root level by level.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cre_core.errors import InputError
from cre_core.textio import iter_lines

SYSTEMATIC = re.compile(r"^Y[A-P][LR]\d{3}[WC](-[A-Z])?$")
GO_ID = re.compile(r"^GO:\d{7}$")
EDGE_RELATIONS = ("part_of",)


def read_obo(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Terms (go_id, name, namespace, is_obsolete) and edges (child, parent, relation).

    Keeps ``is_a`` and ``part_of`` edges, the two DCell follows; other stanzas are skipped.
    A cycle through those edges is refused (DCell's ontology must be a DAG).
    """
    path = Path(path)
    terms: list[list] = []
    edges: list[tuple[str, str, str]] = []
    edge_lines: list[int] = []
    current: list | None = None
    for number, text in iter_lines(path):
        line = text.strip()
        if line.startswith("["):
            current = [None, None, None, False] if line == "[Term]" else None
            if current is not None:
                terms.append(current)
            continue
        if current is None or not line or line.startswith("!"):
            continue
        if ":" not in line:
            raise InputError(path, number, f"expected 'tag: value', got '{line[:40]}'")
        tag, value = (part.strip() for part in line.split(":", 1))
        value = value.split(" ! ")[0].strip()
        if tag == "id":
            if not GO_ID.match(value):
                raise InputError(path, number, f"'{value}' is not a GO id (GO:0000000)")
            current[0] = value
        elif tag == "name":
            current[1] = value
        elif tag == "namespace":
            current[2] = value
        elif tag == "is_obsolete":
            current[3] = value == "true"
        elif tag == "is_a":
            edges.append((current[0], value.split()[0], "is_a"))
            edge_lines.append(number)
        elif tag == "relationship":
            relation, _, parent = value.partition(" ")
            if relation in EDGE_RELATIONS:
                edges.append((current[0], parent.split()[0], relation))
                edge_lines.append(number)
    if not terms:
        raise InputError(path, None, "no [Term] stanzas: not an OBO file")
    frame = pd.DataFrame(terms, columns=["go_id", "name", "namespace", "is_obsolete"])
    if frame["go_id"].isna().any():
        raise InputError(path, None, "a [Term] stanza has no id")
    cycle = find_cycle([(child, parent) for child, parent, _ in edges])
    if cycle:
        closing = edges.index(next(e for e in edges if (e[0], e[1]) == (cycle[-2], cycle[-1])))
        raise InputError(path, edge_lines[closing],
                         f"the is_a/part_of edges form a cycle: {' → '.join(cycle)}")
    return frame, pd.DataFrame(edges, columns=["child", "parent", "relation"])


def find_cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """One cycle of a directed graph as ``[a, b, ..., a]``, or None when it is acyclic.

    Iterative depth-first search (GO is ~45,000 terms deep in places; no recursion limit).
    """
    children: dict[str, list[str]] = {}
    for child, parent in edges:
        children.setdefault(child, []).append(parent)
    state: dict[str, int] = {}      # 1: on the current path, 2: finished
    for start in children:
        if state.get(start):
            continue
        path, stack = [start], [iter(children.get(start, ()))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(children.get(step, ())))
    return None


def read_gaf(path: str | Path) -> pd.DataFrame:
    """Annotations (gene, go_id, aspect, evidence, symbol); ``NOT`` qualifiers are dropped.

    ``gene`` is the systematic name found among the synonyms (column 11), else None; the
    ingest then maps the symbol (column 3) through the genes table.
    """
    path = Path(path)
    rows = []
    for number, text in iter_lines(path):
        if not text or text.startswith("!"):
            continue
        fields = text.split("\t")
        if len(fields) < 15:
            raise InputError(path, number, f"{len(fields)} columns, expected 15 or more (GAF)")
        if "NOT" in fields[3].split("|"):
            continue
        if not GO_ID.match(fields[4]):
            raise InputError(path, number, f"column 5: '{fields[4]}' is not a GO id")
        systematic = next((s for s in fields[10].split("|") if SYSTEMATIC.match(s)), None)
        rows.append((systematic, fields[4], fields[8], fields[6], fields[2]))
    if not rows:
        # Loading nothing would delete every annotation the store has.
        raise InputError(path, None, "no annotation lines (empty, '!' header lines only, or all NOT)")
    return pd.DataFrame(rows, columns=["gene", "go_id", "aspect", "evidence", "symbol"])


# --- the DCell hierarchy --------------------------------------------------------------------

ROOT = "ROOT"


@dataclass
class Ontology:
    """Kept terms in run order (level by level, leaves first) and their wiring.

    ``direct[t]`` gene indices fed to term t; ``children[t]`` term indices (all earlier in the
    order); ``size[t]`` genes annotated to t or its descendants; ``root`` the last term.
    """

    terms: list[str]
    direct: list[list[int]]
    children: list[list[int]]
    size: list[int]
    level: list[int]

    @property
    def root(self) -> int:
        return len(self.terms) - 1

    def gene_sets(self) -> list[set[int]]:
        """Every term's genes: its direct genes and those of all its descendants."""
        out: list[set[int]] = []
        for t, kids in enumerate(self.children):
            genes = set(self.direct[t])
            for c in kids:
                genes |= out[c]
            out.append(genes)
        return out

    def to_dict(self) -> dict:
        return {"terms": self.terms, "direct": self.direct, "children": self.children,
                "size": self.size, "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> Ontology:
        return cls(list(d["terms"]), [list(x) for x in d["direct"]],
                   [list(x) for x in d["children"]], list(d["size"]), list(d["level"]))


def build_ontology(
    genes: list[str], terms: list[str], edges: list[tuple[str, str]],
    annotations: list[tuple[str, str]], min_genes: int = 6, counted: Collection[str] | None = None,
) -> Ontology:
    """The DCell term hierarchy (rules in the module docstring).

    Args:
        genes: gene vocabulary; gene indices in the result index this list.
        terms: non-obsolete GO ids.
        edges: (child, parent) pairs (is_a and part_of).
        annotations: (gene, go_id) pairs.
        min_genes: smallest propagated gene count a term needs to be kept.
        counted: the genes that size and feed terms (rule 2); None counts every gene.

    Raises:
        ValueError: when no term has ``min_genes`` genes.
    """
    gene_index = {g: i for i, g in enumerate(genes)}
    if counted is not None:
        kept_genes = set(counted)
        gene_index = {g: i for g, i in gene_index.items() if g in kept_genes}
    term_set = set(terms)
    parents: dict[str, set[str]] = {t: set() for t in term_set}
    for child, parent in edges:
        if child in term_set and parent in term_set and child != parent:
            parents[child].add(parent)

    # 2. propagate annotations upward; gene sets are Python ints used as bitsets
    direct_bits: dict[str, int] = {}
    for gene, term in annotations:
        if gene in gene_index and term in term_set:
            direct_bits[term] = direct_bits.get(term, 0) | (1 << gene_index[gene])
    bits: dict[str, int] = {}
    for term in _ancestor_closure_order(direct_bits, parents):
        bits[term] = bits.get(term, 0) | direct_bits.get(term, 0)
    # push each term's set to its parents in topological order (children before parents)
    for term in _topological(bits.keys(), parents):
        for parent in parents[term]:
            bits[parent] = bits.get(parent, 0) | bits[term]

    # 3. size filter
    kept0 = {t for t, b in bits.items() if b.bit_count() >= min_genes}
    if not kept0:
        raise ValueError(f"no GO term has {min_genes} or more annotated genes")

    # 4. collapse terms identical to a kept child
    kept_children0 = _kept_children(kept0, parents)
    redundant = {t for t in kept0 if any(bits[c] == bits[t] for c in kept_children0.get(t, ()))}
    kept = kept0 - redundant
    kids = _kept_children(kept, parents)

    # 5. single root
    has_parent = {c for cs in kids.values() for c in cs}
    roots = sorted(t for t in kept if t not in has_parent)
    if len(roots) > 1:
        kids[ROOT] = set(roots)
        bits[ROOT] = 0
        for r in roots:
            bits[ROOT] |= bits[r]
        kept.add(ROOT)

    # 7. levels, then order: by level, then id (deterministic)
    level: dict[str, int] = {}
    for term in _topological(kept, {t: set() for t in kept}, kids):
        level[term] = 1 + max((level[c] for c in kids.get(term, ())), default=-1)
    order = sorted(kept, key=lambda t: (level[t], t == ROOT, t))
    pos = {t: i for i, t in enumerate(order)}

    direct, children = [], []
    for term in order:
        covered = 0
        for c in kids.get(term, ()):
            covered |= bits[c]
        direct.append(_bit_indices(bits[term] & ~covered))
        children.append(sorted(pos[c] for c in kids.get(term, ())))
    return Ontology(
        terms=order, direct=direct, children=children,
        size=[bits[t].bit_count() for t in order], level=[level[t] for t in order],
    )


def _bit_indices(b: int) -> list[int]:
    out, i = [], 0
    while b:
        low = b & -b
        i = low.bit_length() - 1
        out.append(i)
        b ^= low
    return out


def _ancestor_closure_order(seeds: dict[str, int], parents: dict[str, set[str]]) -> list[str]:
    """Every term that is annotated or an ancestor of an annotated term."""
    seen: set[str] = set()
    stack = list(seeds)
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(parents[t])
    return sorted(seen)


def _topological(nodes, parents: dict[str, set[str]], children: dict | None = None) -> list[str]:
    """Children before parents among ``nodes`` (Kahn's algorithm; cycles are ignored)."""
    nodes = set(nodes)
    if children is None:
        children = {}
        for t in nodes:
            for p in parents.get(t, ()):
                if p in nodes:
                    children.setdefault(p, set()).add(t)
    pending = {t: len([c for c in children.get(t, ()) if c in nodes]) for t in nodes}
    up: dict[str, set[str]] = {t: set() for t in nodes}
    for t in nodes:
        for c in children.get(t, ()):
            if c in nodes:
                up[c].add(t)
    ready = sorted(t for t, n in pending.items() if n == 0)
    out = []
    while ready:
        t = ready.pop()
        out.append(t)
        for p in up[t]:
            pending[p] -= 1
            if pending[p] == 0:
                ready.append(p)
    return out


def _kept_children(kept: set[str], parents: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each kept term, the kept terms whose nearest kept ancestors include it."""
    memo: dict[str, set[str]] = {}

    def nearest(t: str, stack: frozenset = frozenset()) -> set[str]:
        if t in memo:
            return memo[t]
        out: set[str] = set()
        for p in parents.get(t, ()):
            if p in stack:
                continue
            out |= {p} if p in kept else nearest(p, stack | {t})
        memo[t] = out
        return out

    kids: dict[str, set[str]] = {}
    for t in kept:
        for p in nearest(t):
            kids.setdefault(p, set()).add(t)
    return kids
