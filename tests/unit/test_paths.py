import pytest

from genai_lab import paths


def test_repo_root_holds_the_course():
    root = paths.repo_root()
    assert (root / "pyproject.toml").is_file()
    assert (root / "notebooks").is_dir()


def test_benchmarks_dir_from_env(tmp_path, monkeypatch):
    (tmp_path / "sst2").mkdir()
    monkeypatch.setenv("GENAI_LAB_BENCHMARKS", str(tmp_path))
    assert paths.benchmarks_dir() == tmp_path.resolve()
    assert paths.benchmark("sst2") == tmp_path.resolve() / "sst2"
    assert paths.benchmark("scifact") is None
    with pytest.raises(FileNotFoundError, match="scifact"):
        paths.benchmark("scifact", required=True)


def test_missing_benchmarks_dir_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_BENCHMARKS", str(tmp_path / "nowhere"))
    assert paths.benchmarks_dir() is None
    assert paths.benchmark("sst2") is None
    with pytest.raises(FileNotFoundError, match="GENAI_LAB_BENCHMARKS="):
        paths.benchmarks_dir(required=True)


def test_results_dir_never_mixes_modes(tmp_path, monkeypatch):
    monkeypatch.delenv("GENAI_LAB_RESULTS", raising=False)
    monkeypatch.setenv("GENAI_LAB_FAST", "1")
    assert paths.results_dir() == paths.build_dir() / "results-fast"
    monkeypatch.delenv("GENAI_LAB_FAST")
    assert paths.results_dir() == paths.repo_root() / "results"
    monkeypatch.setenv("GENAI_LAB_RESULTS", str(tmp_path))
    assert paths.results_dir() == tmp_path


def test_cache_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_CACHE", str(tmp_path / "c"))
    assert paths.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()
