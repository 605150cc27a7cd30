"""The real MiniLM through the embedding cache: sensible similarities, and a second call reads the disk."""

import numpy as np
import pytest

from genai_lab.rag.embeddings import cached_count, embed_texts


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_CACHE", str(tmp_path))  # MiniLM itself comes from its package


@pytest.mark.real_model
def test_minilm_semantics_and_cache():
    texts = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply."]
    vecs = embed_texts(texts)
    assert vecs.shape == (3, 384)
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert cached_count() == 3
    np.testing.assert_allclose(embed_texts(texts[:1]), vecs[:1])


