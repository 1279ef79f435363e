"""Gene Ontology inputs for DCell: ``go-basic.obo`` terms and edges, SGD's GAF annotations."""

from __future__ import annotations

import re
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
