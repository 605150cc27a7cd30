"""Every name in CONTRIBUTING.md's public-surface table still imports from the module it names."""

from __future__ import annotations

import importlib
import re

import pytest

from genai_lab.paths import repo_root


def surface() -> list[tuple[str, str]]:
    text = (repo_root() / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("<!-- public-surface -->", 1)[1].split("<!-- /public-surface -->", 1)[0]
    pairs = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`genai_lab"):
            module = cells[0].strip("`")
            pairs += [(module, name) for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[1])]
    return pairs


def test_the_table_is_read():
    pairs = surface()
    assert len(pairs) > 100 and ("genai_lab.serving.paged", "BlockAllocator") in pairs


@pytest.mark.parametrize(("module", "name"), surface())
def test_public_name_imports(module: str, name: str):
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone; re-export it where it moved"
