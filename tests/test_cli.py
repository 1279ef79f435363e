"""The command line as users meet it: --version, a top-level --help written for them, one-line errors."""

from __future__ import annotations

import logging

import pytest

from cre_core import __version__
from cre_core.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"python -m cre_core {__version__}"


def test_top_level_help_is_for_users(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "`" not in text                                     # no developer docstring markup
    for command in ("demo", "ingest", "info", "embed", "train", "predict", "scan"):
        assert f"\n    {command} " in text, command


def test_unknown_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as done:
        main(["trian"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'trian'" in err[0]


def test_progress_goes_to_stderr_through_the_package_logger(tmp_path, capsys):
    main(["info", "--workspace", str(tmp_path / "none")])      # the CLI installs the handler
    capsys.readouterr()
    logging.getLogger("cre_core.train").info("epoch 1/3")
    captured = capsys.readouterr()
    assert captured.err == "epoch 1/3\n" and captured.out == ""
