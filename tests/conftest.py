"""Shared fixtures: one tiny demo workspace per test session, copies for tests that write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cre_core.demo.commands import build_demo
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


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """One synthetic 48-gene workspace per test module (tests/train_support.py)."""
    from tests.train_support import build_workspace

    root = tmp_path_factory.mktemp("synth") / "ws"
    build_workspace(root, n_genes=48)
    return root


@pytest.fixture
def ws(synth_root, tmp_path):
    """A private copy of ``synth_root`` (runs written by one test never meet another's)."""
    shutil.copytree(synth_root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def real_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The real workspace of ``../shared/realdata`` (genome, SMF, SGA rows, DCell ε, GO), built once.

    Read-mostly: tests that write copy it first. CI always has ``../shared``; a checkout without it
    skips these tests with the reason.
    """
    from tests.realdata import REALDATA, build_real_workspace

    if not REALDATA.is_dir():
        pytest.skip(f"{REALDATA} is absent (CI puts ../shared beside the clone)")
    return Workspace(build_real_workspace(tmp_path_factory.mktemp("real") / "ws"))
