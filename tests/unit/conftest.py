"""Fixtures of the unit tier."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def varied_tiny_llama():
    """The tiny random Llama with larger weights (std 0.35): the default init (std 0.02) makes a random
    model repeat one token; larger weights give varied, input-dependent outputs, so that a wrong cache
    or position shows up as a different token. One per test module (tests may wrap its forward)."""
    import torch

    from genai_lab.models import tiny_llama

    m = tiny_llama(max_position_embeddings=128)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.35)
    return m
