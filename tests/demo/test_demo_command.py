"""The `demo` command: generate real-format files, ingest them with the real parsers, atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cre_core.cli import main
from cre_core.data.store import counts
from cre_core.workspace import Workspace


def checksum(ws: Workspace) -> tuple:
    con = ws.connect()
    try:
        return con.execute(
            "SELECT count(*), round(sum(fitness), 6), round(sum(epsilon), 6) FROM dmf"
        ).fetchall()[0]
    finally:
        con.close()


def test_tiny_workspace_fixture_holds_everything(tiny_workspace: Workspace) -> None:
    con = tiny_workspace.connect()
    try:
        got = counts(con)
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        kinds = {k for (k,) in con.execute("SELECT DISTINCT query_kind FROM sga").fetchall()}
    finally:
        con.close()
    assert got["genes"] >= 250 and got["windows"] == 2 * got["genes"]
    assert got["dmf"] > 5_000 and got["sga"] > got["dmf"]  # repeats aggregated
    assert got["go_annotations"] > 0 and got["smf"] > 0
    assert meta["demo_preset"] == "tiny" and meta["demo_seed"] == "0"
    assert {"deletion", "ts"} <= kinds


def test_cli_demo_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        assert main(["demo", "--workspace", str(tmp_path / name), "--preset", "tiny", "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["workspace"] == str(tmp_path / "b")
    assert checksum(Workspace(tmp_path / "a")) == checksum(Workspace(tmp_path / "b"))
    assert main(["demo", "--workspace", str(tmp_path / "c"), "--preset", "tiny", "--seed", "4"]) == 0
    assert checksum(Workspace(tmp_path / "c")) != checksum(Workspace(tmp_path / "a"))


def test_demo_refuses_non_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("mine")
    assert main(["demo", "--workspace", str(tmp_path / "ws"), "--preset", "tiny"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "ws" / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".ws.*"))  # no staging folder left behind


def test_demo_sources_point_at_final_folder(tiny_workspace: Workspace) -> None:
    con = tiny_workspace.connect()
    try:
        paths = [p for (p,) in con.execute("SELECT path FROM sources").fetchall()]
    finally:
        con.close()
    assert paths and all(p.startswith(str(tiny_workspace.root)) for p in paths)
    assert all(Path(p).exists() for p in paths)
