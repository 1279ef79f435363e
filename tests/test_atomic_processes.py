"""The shared atomic writer and background-process helpers (cre_core.atomic, cre_core.processes)."""

from __future__ import annotations

import json
import os
import time

import pytest

from cre_core.atomic import atomic_path, write_json_atomic, write_text_atomic
from cre_core.processes import alive, process_identity, spawn


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "status.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_a_written_file_replaces_the_target_with_normal_permissions(tmp_path):
    target = tmp_path / "deep" / "out.fasta"
    old_mask = os.umask(0o022)
    try:
        write_text_atomic(target, ">G upstream\nACGT\n")
    finally:
        os.umask(old_mask)
    assert target.read_text() == ">G upstream\nACGT\n"
    assert target.stat().st_mode & 0o777 == 0o644          # not mkstemp's 0600: users read these


def test_json_is_strict(tmp_path):
    import numpy as np

    write_json_atomic(tmp_path / "s.json", {"r": float("nan"), "n": np.int64(3), "x": [np.float32(0.5)]})
    assert json.loads((tmp_path / "s.json").read_text()) == {"r": None, "n": 3, "x": [0.5]}


def test_spawned_job_logs_and_is_seen_to_end(tmp_path):
    log = tmp_path / "job.log"
    pid = spawn(["--help"], log)
    identity = process_identity(pid)
    assert identity["pid"] == pid and identity["host"]
    deadline = time.time() + 60
    while alive(identity) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(identity)
    text = log.read_text()
    assert text.startswith("$ ") and "-m cre_core --help" in text.splitlines()[0]
    assert "usage" in text.lower()


def test_liveness_of_recorded_processes():
    me = process_identity(os.getpid())
    assert alive(me)
    assert not alive({**me, "pid_start": "1"})                  # the pid was recycled
    assert alive({"pid": 1, "host": "another-machine"})          # cannot check: trust the file
    assert not alive({"pid": None})


def test_log_tail_keeps_the_last_lines_and_the_last_state_of_progress_bars(tmp_path):
    from cre_core.processes import log_tail

    log = tmp_path / "job.log"
    log.write_text("$ python -m cre_core embed\n" + "".join(f"line {i}\n" for i in range(100))
                   + "upstream:  10%\rupstream:  50%\rupstream: 100%\n")
    assert log_tail(log, 3).splitlines() == ["line 98", "line 99", "upstream: 100%"]
    assert log_tail(tmp_path / "missing.log", 3) == ""
