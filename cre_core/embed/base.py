"""The embedder interface and the CRE windows it reads.

An embedder turns CRE windows (rows of the store's ``windows`` table) into fixed-width float32
vectors. Every implementation answers four questions per region:

- ``model_label(region)``: what a person reads in the table ("kmer k=1..4 + 428 enriched 8-mers",
  "gagneurlab/SpeciesLM@upstream_species_lm");
- ``cache_id(region)``: the folder its vectors are cached under; two models never share one;
- ``key(window)``: the content address of a window's vector inside that folder (by default the
  SHA-1 of ``pad_len:sequence``, so an unchanged window is never recomputed);
- ``embed(windows, region, progress)``: the vectors, one row per window, in input order.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cre_core.errors import CreError
from cre_core.workspace import Workspace

REGIONS = ("upstream", "downstream")
FEATURES = ("upstream", "downstream", "both")

# progress(done, total): windows embedded so far in the current region
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Window:
    """One CRE window as stored: 5'->3' in the gene's orientation, N-padded at a chromosome end."""

    gene: str
    sequence: str
    pad_len: int = 0


def sequence_key(window: Window) -> str:
    """Content address of a window: SHA-1 of ``pad_len:sequence``."""
    return hashlib.sha1(f"{window.pad_len}:{window.sequence}".encode("ascii")).hexdigest()


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (model ids and paths become folder names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:80] or "model"


class Embedder(ABC):
    """Turns CRE windows into vectors; see the module docstring for the contract."""

    name: str = ""

    @classmethod
    def from_options(cls, model: str | None = None, regions: Sequence[str] = REGIONS,
                     species: str | None = None, device: str = "auto", batch_size: int | None = None,
                     precision: str = "auto") -> Embedder:
        """The embedder for the ``embed`` command's options; one without settings ignores them."""
        return cls()

    @abstractmethod
    def model_label(self, region: str) -> str:
        """Human-readable model identity for ``region``."""

    @abstractmethod
    def cache_id(self, region: str) -> str:
        """Folder name (under ``embeddings/<name>/``) of this model's cache for ``region``."""

    @abstractmethod
    def dim(self, region: str) -> int:
        """Width of the vectors of ``region``."""

    def key(self, window: Window) -> str:
        """Content address of ``window``'s vector in the cache."""
        return sequence_key(window)

    @abstractmethod
    def embed(self, windows: Sequence[Window], region: str,
              progress: Progress | None = None) -> np.ndarray:
        """float32 array (len(windows), dim) in input order."""

    def prepare(self, windows: dict[str, list[Window]]) -> None:
        """Fit what the embedder learns from the whole genome's windows (by default nothing).

        Called with every current window of each region before ``cache_id``, so that a
        data-dependent model (the kmer vocabulary) is part of the cache's identity.
        """

    def describe(self, region: str) -> dict:
        """Extra facts stored with the cache (parameters, model path...)."""
        return {}


def check_regions(regions: Sequence[str] | str) -> list[str]:
    """``"upstream,downstream"`` or a list -> validated list, in the given order, no repeats."""
    if isinstance(regions, str):
        regions = [r.strip() for r in regions.split(",") if r.strip()]
    out: list[str] = []
    for region in regions:
        if region not in REGIONS:
            raise CreError(f"unknown region '{region}': choose from {', '.join(REGIONS)}")
        if region not in out:
            out.append(region)
    if not out:
        raise CreError("no region given: choose upstream, downstream or both")
    return out


def feature_regions(features: str) -> list[str]:
    """Regions of a feature set: ``both`` = upstream then downstream (concatenated in that order)."""
    if features not in FEATURES:
        raise CreError(f"unknown features '{features}': choose upstream, downstream or both")
    return list(REGIONS) if features == "both" else [features]


def read_windows(ws: Workspace, regions: Sequence[str]) -> dict[str, list[Window]]:
    """The stored windows of ``regions``, sorted by gene; the read connection is closed at once."""
    regions = check_regions(list(regions))
    con = ws.connect(read_only=True)
    try:
        rows = con.execute(
            "SELECT region, gene, sequence, coalesce(pad_len, 0) FROM windows "
            f"WHERE region IN ({', '.join('?' for _ in regions)}) ORDER BY region, gene",
            regions,
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[Window]] = {r: [] for r in regions}
    for region, gene, sequence, pad_len in rows:
        out[region].append(Window(gene, sequence or "", int(pad_len)))
    if not any(out.values()):
        raise CreError(
            f"the store at {ws.root} has no CRE windows: ingest a genome first "
            f"(`python -m cre_core ingest --workspace {ws.root} --gff genome.gff`)"
        )
    return out
