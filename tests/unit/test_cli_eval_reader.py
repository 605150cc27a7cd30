"""`python -m genai_lab.cli eval-reader` is wired to the reader's evaluation (options and errors)."""

from __future__ import annotations

import pytest

from genai_lab.cli import main


def test_eval_reader_is_a_cli_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval-reader", "--help"])
    out = capsys.readouterr().out
    assert "--squad" in out and "--adapter" in out and "--base" in out


def test_eval_reader_names_the_fix_for_a_missing_file(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-reader", "--squad", str(tmp_path / "missing.json"), "--base"]) == 2
    assert "SQuAD file not found" in capsys.readouterr().err
