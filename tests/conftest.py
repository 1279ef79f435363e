"""Shared fixtures: one tiny demo workspace per test session, copies for tests that write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cre_core.data.commands import build_demo
from cre_core.workspace import Workspace


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A built ``tiny`` demo (seed 0). Read-mostly: write into ``workspace_copy`` instead."""
    root = tmp_path_factory.mktemp("tiny") / "ws"
    build_demo(root, preset="tiny", seed=0)
    return Workspace(root)


@pytest.fixture
def workspace_copy(tiny_workspace: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the tiny workspace (store, raw files, embeddings; no runs)."""
    root = tmp_path / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    return Workspace(root)
