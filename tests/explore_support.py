"""Shared set-up of the explore tests: the tiny demo with one short trained run, the planted
modules and their GO terms (module term and parent term, from the generator itself)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cre_core.demo import files as demo_files
from cre_core.demo.generate import PRESETS
from cre_core.demo.world import build_world
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.workspace import Workspace

RUN = dict(model="deepset", embedder="id", split="random", epochs=1, batch_size=1024, hidden=16, gene_dim=16)


def build_explore_ws(tiny_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str]:
    """A copy of the tiny demo (seed 0) with one finished deepset run over learned gene vectors (each test module's
    ``explore_ws`` fixture)."""
    root = tmp_path_factory.mktemp("explore") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    run_id = train_run(ws, TrainConfig.of(**RUN), echo=lambda m: None)["run_id"]
    return ws, run_id


def planted_modules(ws: Workspace) -> pd.DataFrame:
    """gene, module (>= 0 only) from the store's demo_truth."""
    con = ws.connect(read_only=True)
    try:
        return con.execute("SELECT gene, module FROM demo_truth WHERE module >= 0").df()
    finally:
        con.close()


def module_terms(preset: str, seed: int) -> tuple[list[str], list[str]]:
    """Each module's GO term and its planted parent term, as the generator wrote them."""
    world = build_world(PRESETS[preset], seed)
    onto = demo_files.Ontology(world)
    return onto.module, [onto.parent[int(p)] for p in world.module_parent]
