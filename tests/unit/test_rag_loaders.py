"""Tests of genai_lab.rag.loaders on small files made here, including broken ones."""

from __future__ import annotations

import json

import pytest

from genai_lab.rag.loaders import (
    DocumentLoadError,
    load_documents,
    read_questions,
    render_images,
    render_markdown_tables,
)


def make_pdf(path, pages, image=False):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    if image:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (20, 20), "red").save(buf, format="PNG")
        pdf.image(buf, w=20)
    pdf.output(str(path))


@pytest.fixture
def folder(tmp_path):
    make_pdf(tmp_path / "manual.pdf", ["Page one about pumps.", "Page two: the pump weighs 3 kg."], image=True)
    (tmp_path / "notes.md").write_text(
        "# Notes\nIntro text.\n\n## Budget\nThe budget is 10 EUR.\n\n"
        "| item | cost |\n|---|---|\n| tea | 2 |\n\n## Logo\n![a red square](logo.png \"Logo\")\n",
        encoding="utf-8",
    )
    (tmp_path / "staff.json").write_text(
        json.dumps({"title": "Staff", "records": [{"name": "Ann", "role": "CEO"}, {"name": "Bo", "role": "CTO"}]}),
        encoding="utf-8",
    )
    (tmp_path / "prices.csv").write_text("sku,price\nA1,10\nB2,\"1,200\"\n", encoding="utf-8")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG not really")
    return tmp_path


def test_loads_every_format_with_metadata(folder):
    result = load_documents(folder)
    assert result.errors == []
    assert result.skipped == ["logo.png"]
    by_type = {}
    for doc in result.documents:
        assert {"source", "page", "section", "type"} <= set(doc.metadata)
        by_type.setdefault(doc.metadata["type"], []).append(doc)
    assert [d.metadata["page"] for d in by_type["pdf"]] == [1, 2]
    assert "3 kg" in by_type["pdf"][1].page_content
    assert by_type["pdf"][1].metadata["images"] == 1
    assert [d.metadata["section"] for d in by_type["markdown"]] == ["Notes", "Budget", "Logo"]
    assert [d.metadata["section"] for d in by_type["json"]] == ["Ann", "Bo"]
    assert "role: CTO" in by_type["json"][1].page_content
    assert [d.metadata["section"] for d in by_type["csv"]] == ["A1", "B2"]
    assert "price: 1,200" in by_type["csv"][1].page_content


def test_markdown_tables_and_images_are_rendered(folder):
    docs = load_documents(folder / "notes.md").documents
    budget, logo = docs[1].page_content, docs[2].page_content
    assert "item: tea | cost: 2" in budget
    assert "[Image: a red square (Logo)]" in logo
    assert docs[1].page_content.startswith("Notes\n## Budget")  # the parent header path is kept


def test_render_helpers():
    assert render_images("x ![](a.png) y") == "x [Image: no alt text] y"
    assert render_markdown_tables("|a|b|\n|:--|--:|\n|1|2|") == "a: 1 | b: 2"
    assert render_markdown_tables("| not | a table |") == "| not | a table |"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"   \n", "whitespace"),
        ("bad.json", b'{"a": 1,,}', "invalid JSON at line 1"),
        ("corrupt.pdf", b"%PDF-1.4 this is not really a pdf", "corrupt"),
        ("data.xyz", b"hello", "unsupported file type '.xyz'"),
        ("latin1.md", "café".encode("latin-1"), "not UTF-8"),
        ("ragged.csv", b"a,b\n1,2,3\n", "row 1 has 3 fields"),
        ("header_only.csv", b"a,b\n", "no data rows"),
    ],
)
def test_bad_files_are_reported_by_name_and_the_rest_load(tmp_path, name, content, reason):
    (tmp_path / "good.md").write_text("# Good\nfine", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    result = load_documents(tmp_path)
    assert [d.metadata["source"] for d in result.documents] == ["good.md"]
    assert len(result.errors) == 1
    assert result.errors[0].path == name
    assert reason in result.errors[0].reason
    with pytest.raises(DocumentLoadError, match=name):
        load_documents(tmp_path, strict=True)


def test_encrypted_pdf(tmp_path):
    from pypdf import PdfReader, PdfWriter

    make_pdf(tmp_path / "plain.pdf", ["secret plans"])
    writer = PdfWriter()
    for page in PdfReader(tmp_path / "plain.pdf").pages:
        writer.add_page(page)
    writer.encrypt("s3cret", algorithm="RC4-128")
    with open(tmp_path / "locked.pdf", "wb") as fh:
        writer.write(fh)
    result = load_documents(tmp_path)
    assert [d.metadata["source"] for d in result.documents] == ["plain.pdf"]
    assert result.errors[0].path == "locked.pdf"
    assert "encrypted" in result.errors[0].reason and "qpdf" in result.errors[0].reason


def test_pdf_without_text_asks_for_ocr(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(tmp_path / "scan.pdf"))
    result = load_documents(tmp_path)
    assert "OCR" in result.errors[0].reason


def test_manifest_adds_title_and_classification(tmp_path):
    (tmp_path / "a.md").write_text("# A\ntext", encoding="utf-8")
    manifest = {"documents": [{"path": "a.md", "title": "Doc A", "type": "policy", "classification": "internal"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "questions.jsonl").write_text('{"id": "q1"}\n', encoding="utf-8")
    docs = load_documents(tmp_path).documents
    assert len(docs) == 1  # the manifest and the question set are not documents
    assert docs[0].metadata["title"] == "Doc A"
    assert docs[0].metadata["classification"] == "internal"
    assert docs[0].metadata["doc_type"] == "policy"
    assert read_questions(tmp_path) == [{"id": "q1"}]


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_documents(tmp_path / "nope")
