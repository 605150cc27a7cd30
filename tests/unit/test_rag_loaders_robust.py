"""Hostile and odd files in a knowledge-base folder: each becomes a LoadError naming it, the good file
beside it still loads, and nothing hangs (issue 14, items 5 and 8)."""

from __future__ import annotations

import functools
import os
import time
import zlib
from pathlib import Path

import pytest

from genai_lab.rag.loaders import DocumentLoadError, load_documents, load_file, render_images

GOOD = "# Leave policy\n\nEmployees get 25 days of leave a year.\n"


def raw_pdf(stream: bytes, filter_name: str | None = None) -> bytes:
    """A one-page PDF whose page content is ``stream`` (with ``/Filter filter_name``), built by hand."""
    length = b"<< /Length %d" % len(stream) + (f" /Filter {filter_name}".encode() if filter_name else b"") + b" >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        length + b"\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


@functools.lru_cache(maxsize=1)
def flate_bomb(size: int = 80_000_000) -> bytes:
    """``size`` bytes of spaces, deflated to about 80 KB: more than pypdf's 75 MB output limit."""
    packer, block = zlib.compressobj(1), b" " * 1_000_000
    return b"".join(packer.compress(block) for _ in range(size // len(block))) + packer.flush()


def load_beside_good(tmp_path: Path, name: str, content: bytes):
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    return load_documents(tmp_path)


HOSTILE = [
    ("bomb.pdf", lambda: raw_pdf(flate_bomb(), "/FlateDecode"), "compression bomb"),
    ("filter.pdf", lambda: raw_pdf(b"xxxx", "/FooDecode"), "feature pypdf cannot read"),
    ("deep.json", lambda: b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("digits.json", lambda: b'[{"id": 1, "n": ' + b"7" * 5000 + b"}]", "store it as a string"),
    ("cell.csv", lambda: b"a,b\n1," + b"x" * 131_100 + b"\n", "longer than 131,072 characters"),
    ("quote.csv", lambda: b'name,amount\nlaptop,"1200\nphone,300\ndesk,450\n', "never closed"),
]


@pytest.mark.parametrize(("name", "make", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_file_is_one_named_error_and_the_rest_load(tmp_path, name, make, reason):
    result = load_beside_good(tmp_path, name, make())
    assert [e.path for e in result.errors] == [name]
    assert reason in result.errors[0].reason
    assert [d.metadata["source"] for d in result.documents] == ["good.md"]
    with pytest.raises(DocumentLoadError, match=name.replace(".", r"\.")):
        load_documents(tmp_path / name, strict=True)


def test_a_closed_multiline_quote_is_still_fine(tmp_path):
    result = load_beside_good(tmp_path, "notes.csv", b'name,note\nlaptop,"two\nlines"\nphone,ok\n')
    assert result.errors == []
    assert "note: two\nlines" in result.documents[1].page_content


def test_unexpected_reader_failure_is_still_a_named_error(tmp_path, monkeypatch):
    import genai_lab.rag.formats.records as records

    def boom(*_args):
        raise ZeroDivisionError("no reader expects this")

    monkeypatch.setattr(records, "load_json", boom)
    result = load_beside_good(tmp_path, "x.json", b"[1]")
    assert [e.path for e in result.errors] == ["x.json"] and "ZeroDivisionError" in result.errors[0].reason
    assert len(result.documents) == 1


def test_malformed_manifest_is_reported_and_documents_still_load(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    result = load_beside_good(tmp_path, "other.md", b"# Other\n\ntext\n")
    assert [e.path for e in result.errors] == ["manifest.json"] and len(result.documents) == 2


@pytest.mark.parametrize("text", ["![" * 32_768, "![a](" * 13_000, '![a](x "' * 8_000, "|-" * 32_000])
def test_markdown_rendering_is_linear(tmp_path, text):
    # 64 KB of "![" took 15 s with the old pattern (quadratic); linear work is milliseconds.
    start = time.perf_counter()
    result = load_beside_good(tmp_path, "evil.md", text.encode())
    assert time.perf_counter() - start < 3.0
    assert result.errors == [] and len(result.documents) == 2


def test_images_still_render_with_the_bounded_pattern():
    assert render_images('![a cat](cat.png "Tom") and ![](x.jpg)') == "[Image: a cat (Tom)] and [Image: no alt text]"


needs_symlinks = pytest.mark.skipif(os.name == "nt", reason="POSIX links and pipes")


@needs_symlinks
def test_links_are_followed_only_inside_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nsalaries\n", encoding="utf-8")
    kb = tmp_path / "kb"
    (kb / "sub").mkdir(parents=True)
    (kb / "good.md").write_text(GOOD, encoding="utf-8")
    (kb / "inside.md").symlink_to(kb / "good.md")
    (kb / "escape.md").symlink_to(outside / "secret.md")
    (kb / "dangling.md").symlink_to(kb / "missing.md")
    (kb / "loop.md").symlink_to(kb / "loop.md")
    (kb / "folder").symlink_to(outside, target_is_directory=True)
    result = load_documents(kb)
    reasons = {e.path: e.reason for e in result.errors}
    assert set(reasons) == {"escape.md", "dangling.md", "loop.md", "folder"}
    assert "outside the folder" in reasons["escape.md"]
    assert "dangling" in reasons["dangling.md"]
    assert "loop" in reasons["loop.md"]
    assert "folder" in reasons["folder"]
    assert sorted(d.metadata["source"] for d in result.documents) == ["good.md", "inside.md"]
    assert all("salaries" not in d.page_content for d in result.documents)


@needs_symlinks
def test_a_named_pipe_is_reported_and_never_opened(tmp_path):
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.md")  # opening it for reading would block forever
    result = load_documents(tmp_path)
    assert [e.path for e in result.errors] == ["pipe.md"] and "named pipe" in result.errors[0].reason
    assert len(result.documents) == 1
    with pytest.raises(DocumentLoadError, match="named pipe"):
        load_file(tmp_path / "pipe.md")
