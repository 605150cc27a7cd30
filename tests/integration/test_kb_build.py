"""data/kb is exactly what scripts/build_kb.py renders from the sources in data/kb_src (PDFs included):
the committed knowledge base is not stale, and the build is deterministic."""

from __future__ import annotations

import filecmp
import subprocess
import sys

import pytest

from genai_lab.paths import data_dir, repo_root

KB = data_dir() / "kb"


@pytest.mark.parametrize("script", ["scripts/build_kb.py"])
def test_build_script_reproduces_the_committed_kb(tmp_path, script):
    subprocess.run([sys.executable, str(repo_root() / script), "--out", str(tmp_path / "kb")], check=True,
                   capture_output=True)
    committed = sorted(p.relative_to(KB) for p in KB.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(tmp_path / "kb") for p in (tmp_path / "kb").rglob("*") if p.is_file())
    assert committed == rebuilt
    _, mismatch, errors = filecmp.cmpfiles(KB, tmp_path / "kb", [str(p) for p in committed], shallow=False)
    assert mismatch == [] and errors == [], f"data/kb is stale; run `python {script}`: {mismatch}"


