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
    """
    path = Path(path)
    terms: list[list] = []
    edges: list[tuple[str, str, str]] = []
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
        elif tag == "relationship":
            relation, _, parent = value.partition(" ")
            if relation in EDGE_RELATIONS:
                edges.append((current[0], parent.split()[0], relation))
    if not terms:
        raise InputError(path, None, "no [Term] stanzas: not an OBO file")
    frame = pd.DataFrame(terms, columns=["go_id", "name", "namespace", "is_obsolete"])
    if frame["go_id"].isna().any():
        raise InputError(path, None, "a [Term] stanza has no id")
    return frame, pd.DataFrame(edges, columns=["child", "parent", "relation"])


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
    return pd.DataFrame(rows, columns=["gene", "go_id", "aspect", "evidence", "symbol"])
