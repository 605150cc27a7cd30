"""The embedding cache: misses embed, hits read from disk, duplicates embed once."""

import numpy as np
import pytest

from genai_lab.rag import embeddings
from genai_lab.rag.embeddings import cached_count, embed_texts


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_CACHE", str(tmp_path))


class CountingEncoder:
    """A deterministic fake model: a vector from the text's characters; records every text seen."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for i, text in enumerate(texts):
            for j, ch in enumerate(text):
                out[i, j % self.dim] += ord(ch)
        return out + 1.0


def test_miss_then_hit():
    enc = CountingEncoder()
    first = embed_texts(["alpha", "beta"], encoder=enc, model_name="fake")
    assert sorted(enc.seen) == ["alpha", "beta"]
    assert first.shape == (2, 8) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)

    again = embed_texts(["beta", "gamma", "alpha"], encoder=enc, model_name="fake")
    assert sorted(enc.seen) == ["alpha", "beta", "gamma"]  # only gamma was new
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert cached_count("fake") == 3


def test_duplicates_embedded_once_and_order_kept():
    enc = CountingEncoder()
    out = embed_texts(["x", "yy", "x", "zzz"], encoder=enc, model_name="fake")
    assert sorted(enc.seen) == ["x", "yy", "zzz"]
    np.testing.assert_array_equal(out[0], out[2])
    assert not np.allclose(out[0], out[1])


def test_cache_is_per_model_and_can_be_skipped():
    enc = CountingEncoder()
    embed_texts(["a"], encoder=enc, model_name="fake-1")
    embed_texts(["a"], encoder=enc, model_name="fake-2")
    embed_texts(["a"], encoder=enc, model_name="fake-1", cache=False)
    assert enc.seen == ["a", "a", "a"]


def test_blocks_are_saved_as_they_finish(monkeypatch):
    monkeypatch.setattr(embeddings, "BLOCK", 2)

    class Failing(CountingEncoder):
        def __call__(self, texts):
            if len(self.seen) >= 2:
                raise RuntimeError("interrupted")
            return super().__call__(texts)

    with pytest.raises(RuntimeError, match="interrupted"):
        embed_texts(["aaaa", "bbb", "cc", "d"], encoder=Failing(), model_name="fake")
    assert cached_count("fake") == 2  # the first block survived


def test_bad_input():
    enc = CountingEncoder()
    with pytest.raises(TypeError, match="not one string"):
        embed_texts("one text", encoder=enc, model_name="fake")
    with pytest.raises(ValueError, match="together"):
        embed_texts(["a"], encoder=enc)
    with pytest.raises(ValueError, match="plain name"):
        embed_texts(["a"], encoder=enc, model_name="../evil")
    with pytest.raises(ValueError, match="one row per text"):
        embed_texts(["a", "b"], encoder=lambda t: np.ones((1, 4)), model_name="fake")




def _embed_in_process(args):
    """Run in a child process: embed a block of texts of its own plus a block shared with the others."""
    cache, worker = args
    import os

    os.environ["GENAI_LAB_CACHE"] = cache
    texts = [f"text {worker}-{i}" for i in range(40)] + [f"shared {i}" for i in range(40)]
    return embed_texts(texts, encoder=CountingEncoder(), model_name="fake").shape


def test_several_processes_share_one_cache(tmp_path):
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(3) as pool:
        shapes = pool.map(_embed_in_process, [(str(tmp_path), w) for w in range(3)])
    assert shapes == [(80, 8)] * 3  # no "database is locked", no lost write
    assert cached_count("fake") == 3 * 40 + 40


def test_cache_is_langchains_cache_backed_embeddings(tmp_path):
    from langchain_community.storage import SQLStore

    from genai_lab.rag.sqlite_store import sqlite_engine

    embed_texts(["alpha"], encoder=CountingEncoder(), model_name="fake")
    store = SQLStore(namespace="fake", engine=sqlite_engine(embeddings.cache_path("fake")))
    keys = list(store.yield_keys())
    assert keys == [f"fake:{embeddings.text_key('alpha')}"]  # namespace = model name, key = SHA-256
