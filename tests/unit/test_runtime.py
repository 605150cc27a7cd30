import random

import pytest
import torch

from genai_lab import by_mode, fast_mode, seed_everything
from genai_lab.runtime import environment_report, get_device, machine_description


def test_fast_mode_switch(monkeypatch):
    monkeypatch.delenv("GENAI_LAB_FAST", raising=False)
    assert not fast_mode()
    assert by_mode(full=250, fast=5) == 250
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("GENAI_LAB_FAST", value)
        assert fast_mode()
        assert by_mode(full=250, fast=5) == 5
    for value in ("0", "false", "", "off"):
        monkeypatch.setenv("GENAI_LAB_FAST", value)
        assert not fast_mode()


def test_fast_mode_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("GENAI_LAB_FAST", "maybe")
    with pytest.raises(ValueError, match="GENAI_LAB_FAST=1"):
        fast_mode()


def test_seed_everything_repeats():
    seed_everything(7)
    a = (random.random(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), torch.rand(3))
    assert a[0] == b[0]
    assert torch.equal(a[1], b[1])


def test_device_and_report():
    assert get_device() in ("cpu", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA") if not torch.cuda.is_available() else _nullcontext():
        get_device("cuda")
    report = environment_report()
    for key in ("python", "torch", "transformers", "device", "machine", "mode"):
        assert key in report
    assert "cores" in machine_description()


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
