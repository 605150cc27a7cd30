"""`make benchmarks`: layout, archive extraction, sha256 checks, on local files (no network)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from genai_lab.benchmarks import (
    BenchmarkError,
    ChecksumMismatch,
    build_file,
    fetch,
    load_manifest,
    main,
    verify,
)
from genai_lab.paths import benchmarks_dir

CORPUS = b'{"_id": "1", "title": "T", "text": "An abstract."}\n'
QUERIES = b'{"_id": "7", "text": "A claim."}\n'
QRELS = b"query-id\tcorpus-id\tscore\n7\t1\t1\n"
TRAIN_SOURCE = b"text\tlabel\nhide new secretions \t0\ncharming \t1\n"
TRAIN = b"sentence\tlabel\nhide new secretions \t0\ncharming \t1\n"
SQUAD = {
    "version": "v2.0",
    "data": [
        {"title": "Beta", "paragraphs": [{"context": "Caf\u00e9 b.", "qas": []}]},
        {"title": "Alpha", "paragraphs": [{"context": "a", "qas": [{"id": "q", "question": "?", "answers": []}]}]},
        {"title": "Gamma", "paragraphs": []},
    ],
}
SQUAD_SUBSET = json.dumps(
    {"version": "v2.0", "data": [SQUAD["data"][1], SQUAD["data"][0]]}, ensure_ascii=False, separators=(",", ":")
).encode("utf-8")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Local stand-ins for the public sources: a BEIR-style zip, a TSV with the wrong header, SQuAD JSON."""
    src = tmp_path / "sources"
    src.mkdir()
    with zipfile.ZipFile(src / "scifact.zip", "w") as zf:
        zf.writestr("scifact/corpus.jsonl", CORPUS)
        zf.writestr("scifact/queries.jsonl", QUERIES)
        zf.writestr("scifact/qrels/test.tsv", QRELS)
    (src / "train.tsv").write_bytes(TRAIN_SOURCE)
    (src / "dev-v2.0.json").write_text(json.dumps(SQUAD), encoding="utf-8")
    return src


def manifest_for(src: Path) -> dict:
    url = src.as_uri()
    return {
        "scifact": {
            "downloads": [{"name": "scifact.zip", "url": f"{url}/scifact.zip"}],
            "files": [
                {"path": p, "from": "scifact.zip", "member": f"scifact/{p}", "sha256": sha(data)}
                for p, data in (("corpus.jsonl", CORPUS), ("queries.jsonl", QUERIES), ("qrels/test.tsv", QRELS))
            ],
        },
        "sst2": {
            "downloads": [{"name": "train-src.tsv", "url": f"{url}/train.tsv"}],
            "files": [
                {"path": "train.tsv", "from": "train-src.tsv", "header": "sentence\tlabel", "sha256": sha(TRAIN)}
            ],
        },
        "squad2": {
            "downloads": [{"name": "dev.json", "url": f"{url}/dev-v2.0.json"}],
            "files": [
                {"path": "squad2-articles.json", "from": "dev.json", "squad_titles": ["Alpha", "Beta"],
                 "sha256": sha(SQUAD_SUBSET)}
            ],
        },
    }


def test_fetch_lays_out_the_course_layout_and_verifies(sources, tmp_path):
    dest = tmp_path / "benchmarks"
    manifest = manifest_for(sources)
    paths = fetch(dest, manifest=manifest, log=lambda *_: None)
    assert len(paths) == 5
    assert (dest / "scifact" / "corpus.jsonl").read_bytes() == CORPUS
    assert (dest / "scifact" / "qrels" / "test.tsv").read_bytes() == QRELS
    assert (dest / "sst2" / "train.tsv").read_bytes() == TRAIN
    assert (dest / "squad2" / "squad2-articles.json").read_bytes() == SQUAD_SUBSET
    assert not (dest / ".downloads").exists(), "downloads are removed once the files are verified"
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == sorted(p.name for p in paths)
    assert len(verify(dest, manifest=manifest)) == 5


def test_second_fetch_keeps_verified_files_and_downloads_nothing(sources, tmp_path):
    dest = tmp_path / "benchmarks"
    manifest = manifest_for(sources)
    fetch(dest, manifest=manifest, log=lambda *_: None)
    for f in sources.iterdir():
        f.unlink()  # any download now fails
    messages: list[str] = []
    assert len(fetch(dest, manifest=manifest, log=messages.append)) == 5
    assert all("already in place" in m for m in messages) and len(messages) == 3


def test_checksum_mismatch_names_the_file_and_the_fix_and_leaves_nothing(sources, tmp_path):
    dest = tmp_path / "benchmarks"
    manifest = manifest_for(sources)
    manifest["sst2"]["files"][0]["sha256"] = sha(TRAIN_SOURCE)  # what the unconverted file would hash to
    with pytest.raises(ChecksumMismatch) as info:
        fetch(dest, names=["sst2"], manifest=manifest, log=lambda *_: None)
    message = str(info.value)
    assert str(dest / "sst2" / "train.tsv") in message and "make benchmarks" in message
    assert sha(TRAIN) in message and sha(TRAIN_SOURCE) in message
    assert not (dest / "sst2" / "train.tsv").exists()
    assert [p.name for p in (dest / "sst2").iterdir()] == [], "no temporary file is left behind"


def test_missing_archive_member_and_bad_archive(sources, tmp_path):
    manifest = manifest_for(sources)
    manifest["scifact"]["files"][0]["member"] = "scifact/corpus.json"
    with pytest.raises(BenchmarkError, match=r"no member 'scifact/corpus.json'.*scifact/corpus.jsonl"):
        fetch(tmp_path / "b", names=["scifact"], manifest=manifest, log=lambda *_: None)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "scifact.zip").write_bytes(b"not a zip")
    with pytest.raises(BenchmarkError, match="not a valid zip archive"):
        build_file(manifest_for(sources)["scifact"]["files"][0], tmp_path / "dl", tmp_path / "out" / "c.jsonl")


def test_unreachable_source_says_the_course_runs_without_it(tmp_path):
    manifest = manifest_for(tmp_path / "nowhere")
    with pytest.raises(BenchmarkError, match="needs the internet.*BENCHMARKS=") as info:
        fetch(tmp_path / "b", names=["sst2"], manifest=manifest, log=lambda *_: None)
    assert "train.tsv" in str(info.value)


def test_squad_subset_with_unknown_title(sources, tmp_path):
    manifest = manifest_for(sources)
    manifest["squad2"]["files"][0]["squad_titles"] = ["Alpha", "Delta"]
    with pytest.raises(BenchmarkError, match=r"no article\(s\) \['Delta'\]"):
        fetch(tmp_path / "b", names=["squad2"], manifest=manifest, log=lambda *_: None)


def test_verify_reports_missing_and_damaged_files(sources, tmp_path):
    dest = tmp_path / "benchmarks"
    manifest = manifest_for(sources)
    with pytest.raises(BenchmarkError, match=r"Missing benchmark file\(s\).*make benchmarks BENCHMARKS="):
        verify(dest, manifest=manifest)
    fetch(dest, manifest=manifest, log=lambda *_: None)
    (dest / "scifact" / "queries.jsonl").write_bytes(QUERIES + b"\n")
    with pytest.raises(ChecksumMismatch, match="queries.jsonl"):
        verify(dest, manifest=manifest)
    with pytest.raises(BenchmarkError, match=r"Unknown benchmark\(s\) \['glue'\]"):
        verify(dest, names=["glue"], manifest=manifest)


def test_cli_exit_status_and_message(tmp_path, capsys):
    assert main(["verify", "--dest", str(tmp_path), "sst2"]) == 1
    assert "Missing benchmark file(s)" in capsys.readouterr().err


def test_manifest_covers_the_course_layout():
    manifest = load_manifest()
    assert sorted(manifest) == ["scifact", "squad2", "sst2"]
    paths = {f"{name}/{f['path']}" for name, spec in manifest.items() for f in spec["files"]}
    assert {"scifact/corpus.jsonl", "scifact/queries.jsonl", "scifact/qrels/test.tsv",
            "sst2/train.tsv", "sst2/dev.tsv", "squad2/squad2-articles.json"} == paths
    for spec in manifest.values():
        names = {d["name"] for d in spec["downloads"]}
        assert all(f["from"] in names and len(f["sha256"]) == 64 for f in spec["files"])
        assert all(d["url"].startswith("https://") for d in spec["downloads"])


@pytest.mark.skipif(benchmarks_dir() is None, reason="no benchmarks folder on this machine")
def test_manifest_hashes_match_the_reference_copy(tmp_path):
    """The committed hashes are those of the verified copy (CI's ../shared/benchmarks), and the SQuAD
    subset is serialised byte for byte as that copy was."""
    root = benchmarks_dir()
    assert root is not None
    assert len(verify(root)) == 6
    spec = load_manifest()["squad2"]["files"][0]
    source = root / "squad2"
    build_file({**spec, "from": "squad2-articles.json"}, source, tmp_path / "squad2-articles.json")
