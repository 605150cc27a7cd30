#!/usr/bin/env python
"""Build the Brightwater Dynamics knowledge base in ``data/kb/`` from ``scripts/kb_content.py``.

Writes the Markdown, CSV and JSON documents as they are, typesets the PDFs with fpdf2 (with page
headers that carry the classification, real tables and one embedded figure with a caption), and
writes ``manifest.json`` and ``questions.jsonl``. The output is deterministic, so a rebuild of an
unchanged source gives the same files::

    python scripts/build_kb.py            # -> data/kb/
    python scripts/build_kb.py --out /tmp/kb
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kb_content as kb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXED_DATE = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)

# Newer documents that replace an older one: the manifest records it, the loader keeps it as metadata.
SUPERSEDES = {
    "policies/travel_expense_policy_2025.md": "policies/travel_expense_policy_2024.md",
    "policies/information_security_policy_2025.md": "policies/information_security_policy_2023.md",
    "legal/warranty_terms_2025.pdf": "legal/warranty_terms_2023.pdf",
    "sales/price_list_2025.csv": "sales/price_list_2024.csv",
}


def figure_png() -> bytes:
    """A small drawing of the hub (the figure in the Hub H2 manual), made here, not downloaded."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (360, 220), "white")
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((90, 20, 270, 200), radius=24, fill=(47, 62, 70))
    draw.ellipse((140, 70, 220, 150), outline=(15, 139, 141), width=8)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_pdf(doc: dict, path: Path) -> int:
    from fpdf import FPDF

    class BrightwaterPDF(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", "I", 8)
            label = doc["classification"].upper()
            self.cell(0, 6, f"{kb.COMPANY} - {doc['title']} - {label}", align="R")
            self.ln(10)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = BrightwaterPDF(format="A4")
    pdf.set_title(doc["title"])
    pdf.set_author(kb.COMPANY)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(20, 15, 20)
    for i, pg in enumerate(doc["pages"]):
        pdf.add_page()
        if i == 0:
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 9, doc["title"], new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            pdf.multi_cell(0, 6, f"Date: {doc['date']}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, pg["heading"], new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font("Helvetica", "", 11)
        for para in pg["paragraphs"]:
            pdf.multi_cell(0, 6, para, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        if pg["figure"]:
            pdf.image(io.BytesIO(figure_png()), w=70, x=(pdf.w - 70) / 2)
            pdf.set_font("Helvetica", "I", 10)
            pdf.multi_cell(0, 6, pg["figure"], align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 11)
        if pg["table"]:
            pdf.ln(2)
            with pdf.table(first_row_as_headings=True, text_align="LEFT") as table:
                for row in pg["table"]:
                    cells = table.row()
                    for value in row:
                        cells.cell(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return len(doc["pages"])


def write_csv(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(doc["rows"])


def build(out: Path) -> dict:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    documents, questions = [], []

    def add(doc: dict, fmt: str, **extra) -> None:
        entry = {"path": doc["path"], "title": doc["title"], "type": doc["type"], "format": fmt,
                 "classification": doc["classification"], "date": doc["date"], **extra}
        if doc["path"] in SUPERSEDES:
            entry["supersedes"] = SUPERSEDES[doc["path"]]
        documents.append(entry)
        for item in doc["questions"]:
            questions.append(_question(item["question"], item["answer"], item["aliases"], item["kind"],
                                       [_source(doc["path"], item["where"])]))

    for doc in kb.MARKDOWN:
        path = out / doc["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc["text"], encoding="utf-8")
        add(doc, "markdown")
    for doc in kb.PDFS:
        pages = write_pdf(doc, out / doc["path"])
        add(doc, "pdf", pages=pages)
    for doc in kb.CSVS:
        write_csv(doc, out / doc["path"])
        add(doc, "csv", rows=len(doc["rows"]) - 1, key=doc["key"])
    for doc in kb.JSONS:
        path = out / doc["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"title": doc["title"], "date": doc["date"], "records": doc["records"]}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        add(doc, "json", records=len(doc["records"]), key=doc["key"])
    for question, answer, sources, aliases in kb.MULTI_DOC:
        questions.append(_question(question, answer, aliases, "multi_doc",
                                   [_source(s["path"], s["where"]) for s in sources]))
    for question in kb.UNANSWERABLE:
        questions.append(_question(question, "not in the documents", [], "unanswerable", []))

    for i, item in enumerate(questions, 1):
        item["id"] = f"q{i:03d}"
    documents.sort(key=lambda d: d["path"])
    manifest = {"company": kb.COMPANY, "internal_projects": kb.INTERNAL_PROJECTS,
                "generated_by": "scripts/build_kb.py", "documents": documents}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for item in questions:
            fh.write(json.dumps({"id": item.pop("id"), **item}, ensure_ascii=False) + "\n")
    return manifest | {"questions": len(questions)}


def _source(path: str, where: str | int) -> dict:
    return {"path": path, "page": where} if isinstance(where, int) else {"path": path, "section": where}


def _question(question: str, answer: str, aliases, kind: str, sources: list[dict]) -> dict:
    return {"id": "", "question": question, "answer": answer, "aliases": list(aliases), "kind": kind,
            "sources": sources}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "kb")
    args = parser.parse_args()
    info = build(args.out)
    print(f"Wrote {len(info['documents'])} documents and {info['questions']} questions to {args.out}")


if __name__ == "__main__":
    main()
