#!/usr/bin/env python
"""Build the Brightwater Dynamics knowledge base in ``data/kb/`` from its sources in ``data/kb_src/``.

The sources are data, one file per published document, named after the file they become:

* ``x.md``: a Markdown document, published as it is (YAML front matter: title, type, classification,
  date, optional ``supersedes`` and the questions it answers);
* ``x.pdf.md``: a PDF, one ``## heading`` per page; blocks separated by blank lines are paragraphs, a
  Markdown table or a ``![caption](figure:hub)`` figure; typeset with fpdf2 (page headers with the
  classification, real tables, the embedded figure with its caption);
* ``x.csv.yaml``: a table (``columns``, ``rows``; ``key`` names the column that labels a row);
* ``x.json.yaml``: a list of ``records`` (``key`` names the field that labels a record), or
  ``records_from: incident reports`` for the incident log, which is derived from the incident reports;
* ``kb.yaml`` (company, internal projects) and ``questions.yaml`` (multi-document and unanswerable
  questions).

Each document carries its own questions with a stable id, so that a question's gold document and section
(or page) cannot drift from the text that supports it. The build writes ``manifest.json`` and
``questions.jsonl`` beside the documents, and is deterministic: a rebuild of unchanged sources gives
the same bytes::

    python scripts/build_kb.py            # data/kb_src/ -> data/kb/
    python scripts/build_kb.py --out /tmp/kb
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "data" / "kb_src"
FIXED_DATE = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)  # PDF creation date: fixed, so the bytes are too

CLASSIFICATIONS = ("public", "internal", "confidential")
KINDS = ("single_fact", "table", "multi_doc", "unanswerable")
UNANSWERABLE_GOLD = "not in the documents"
META_KEYS = {"title", "type", "classification", "date", "supersedes", "questions"}
QUESTION_KEYS = {"id", "question", "answer", "aliases", "kind", "section", "page", "sources"}
INCIDENT_KEYS = {"severity", "service", "duration_minutes", "status"}
FIGURE = re.compile(r"!\[(?P<caption>[^\]]+)\]\(figure:hub\)")


class KBSourceError(ValueError):
    """A source file in data/kb_src/ is malformed; the message names the file and the fix."""


class _Loader(yaml.SafeLoader):
    """YAML as written: dates stay strings (``2025-03-01``), as the published documents print them."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Document:
    """One published document: where it goes, how it is rendered, and what it says."""

    path: str  # relative to the knowledge base root, e.g. "manuals/lumen_s1_manual.pdf"
    format: str  # markdown | pdf | csv | json
    meta: dict[str, Any]
    body: str = ""  # markdown text, or the pages of a PDF in Markdown
    data: dict[str, Any] = field(default_factory=dict)  # csv/json sources
    source: Path = Path()


# ---------------------------------------------------------------------------------------------
# Reading the sources
# ---------------------------------------------------------------------------------------------
def _yaml(text: str, where: Path) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise KBSourceError(f"{where}: not valid YAML ({exc}); fix the syntax") from exc


def _front_matter(source: Path) -> tuple[dict[str, Any], str]:
    text = source.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, flags=re.S)
    if not match:
        raise KBSourceError(f"{source}: no YAML front matter; start the file with a '---' block")
    meta = _yaml(match.group(1), source)
    if not isinstance(meta, dict):
        raise KBSourceError(f"{source}: the front matter must be a mapping of fields")
    return meta, match.group(2)


def _check_meta(source: Path, meta: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(meta) - allowed
    if unknown:
        raise KBSourceError(f"{source}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    for key in ("title", "type", "classification", "date"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise KBSourceError(f"{source}: field '{key}' is missing or not text")
    if meta["classification"] not in CLASSIFICATIONS:
        raise KBSourceError(f"{source}: classification must be one of {CLASSIFICATIONS}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["date"]):
        raise KBSourceError(f"{source}: date {meta['date']!r} must be written YYYY-MM-DD")
    if not isinstance(meta.get("questions", []), list):
        raise KBSourceError(f"{source}: 'questions' must be a list")


def load_sources(src: Path = SRC) -> tuple[dict[str, Any], list[Document], list[dict[str, Any]]]:
    """Read ``src``: the company facts, every document, and the questions that span documents."""
    if not (src / "kb.yaml").is_file():
        raise KBSourceError(f"{src}: no kb.yaml; point --src at the knowledge base sources (data/kb_src)")
    company = _yaml((src / "kb.yaml").read_text(encoding="utf-8"), src / "kb.yaml")
    documents = []
    for source in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = source.relative_to(src).as_posix()
        if rel in ("kb.yaml", "questions.yaml"):
            continue
        documents.append(_read_document(source, rel))
    spanning = _yaml((src / "questions.yaml").read_text(encoding="utf-8"), src / "questions.yaml")
    questions = [dict(q, kind="multi_doc") for q in spanning.get("multi_doc", [])]
    questions += [dict(q, kind="unanswerable", answer=UNANSWERABLE_GOLD) for q in spanning.get("unanswerable", [])]
    return company, documents, questions


def _read_document(source: Path, rel: str) -> Document:
    if rel.endswith(".md"):
        meta, body = _front_matter(source)
        incident = meta.get("type") == "incident_report"
        _check_meta(source, meta, META_KEYS | (INCIDENT_KEYS if incident else set()))
        if rel.endswith(".pdf.md"):
            return Document(rel.removesuffix(".md"), "pdf", meta, body=body, source=source)
        return Document(rel, "markdown", meta, body=body, source=source)
    if rel.endswith((".csv.yaml", ".json.yaml")):
        fmt = "csv" if rel.endswith(".csv.yaml") else "json"
        data = _yaml(source.read_text(encoding="utf-8"), source)
        if not isinstance(data, dict):
            raise KBSourceError(f"{source}: must be a mapping of fields")
        payload = {"key", "columns", "rows"} if fmt == "csv" else {"key", "records", "records_from"}
        _check_meta(source, data, META_KEYS | payload)  # metadata and payload share the file
        if not isinstance(data.get("key"), str):
            raise KBSourceError(f"{source}: 'key' must name the column or field that labels each row")
        meta = {k: v for k, v in data.items() if k in META_KEYS}
        return Document(rel.removesuffix(".yaml"), fmt, meta, data=data, source=source)
    raise KBSourceError(f"{source}: unknown source type; use .md, .pdf.md, .csv.yaml or .json.yaml")


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
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


def pdf_pages(doc: Document) -> list[dict[str, Any]]:
    """The pages of a ``.pdf.md`` source: a heading and blocks (paragraph, table or figure) in order."""
    chunks = re.split(r"^## (.+)$", doc.body.strip(), flags=re.M)
    if chunks[0].strip():
        raise KBSourceError(f"{doc.source}: text before the first '## ' page heading; every page starts with one")
    pages = []
    for heading, text in zip(chunks[1::2], chunks[2::2], strict=True):
        blocks: list[tuple[str, Any]] = []
        for block in re.split(r"\n\s*\n", text.strip()):
            lines = [line.strip() for line in block.strip().splitlines()]
            if not lines:
                continue
            figure = FIGURE.fullmatch(lines[0])
            if lines[0].startswith("|"):
                rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
                if len(rows) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[1]):
                    raise KBSourceError(f"{doc.source}: table on page '{heading}' needs a '|---|' header rule")
                blocks.append(("table", [rows[0], *rows[2:]]))
            elif figure and len(lines) == 1:
                blocks.append(("figure", figure["caption"]))
            else:
                blocks.append(("paragraph", " ".join(lines)))
        pages.append({"heading": heading.strip(), "blocks": blocks})
    if not pages:
        raise KBSourceError(f"{doc.source}: no pages; start each page with a '## heading' line")
    return pages


def write_pdf(doc: Document, company: str, path: Path) -> int:
    """Typeset ``doc`` as a PDF at ``path``; returns the number of pages."""
    from fpdf import FPDF

    title, label = doc.meta["title"], doc.meta["classification"].upper()

    class BrightwaterPDF(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 6, f"{company} - {title} - {label}", align="R")
            self.ln(10)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = BrightwaterPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(company)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(20, 15, 20)
    pages = pdf_pages(doc)
    for i, page in enumerate(pages):
        pdf.add_page()
        if i == 0:
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            pdf.multi_cell(0, 6, f"Date: {doc.meta['date']}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, page["heading"], new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font("Helvetica", "", 11)
        for kind, content in page["blocks"]:
            if kind == "paragraph":
                pdf.multi_cell(0, 6, content, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif kind == "figure":
                pdf.image(io.BytesIO(figure_png()), w=70, x=(pdf.w - 70) / 2)
                pdf.set_font("Helvetica", "I", 10)
                pdf.multi_cell(0, 6, content, align="C", new_x="LMARGIN", new_y="NEXT")
                pdf.set_font("Helvetica", "", 11)
            else:
                pdf.ln(2)
                with pdf.table(first_row_as_headings=True, text_align="LEFT") as table:
                    for row in content:
                        cells = table.row()
                        for value in row:
                            cells.cell(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return len(pages)


def csv_rows(doc: Document) -> list[list[str]]:
    """Header and rows of a table source; every cell must be text (quote numbers in the YAML)."""
    columns, rows = doc.data.get("columns"), doc.data.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise KBSourceError(f"{doc.source}: a table needs 'columns' (a list) and 'rows' (a list of lists)")
    for row in [columns, *rows]:
        if len(row) != len(columns) or not all(isinstance(cell, str) for cell in row):
            raise KBSourceError(f"{doc.source}: row {row} must have {len(columns)} text cells; quote numbers ('349')")
    if doc.data["key"] not in columns:
        raise KBSourceError(f"{doc.source}: key {doc.data['key']!r} is not one of the columns {columns}")
    return [columns, *rows]


def json_records(doc: Document, incidents: list[Document]) -> list[dict[str, Any]]:
    """The records of a JSON source; the incident log takes its records from the incident reports."""
    if doc.data.get("records_from") == "incident reports":
        return [{"id": Path(i.path).stem, "date": i.meta["date"], "severity": i.meta["severity"],
                 "service": i.meta["service"], "duration_minutes": i.meta["duration_minutes"],
                 "status": i.meta["status"]} for i in incidents]
    records = doc.data.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) and doc.data["key"] in r for r in records):
        raise KBSourceError(f"{doc.source}: 'records' must be a list of mappings that each have the key "
                            f"field {doc.data['key']!r} (or use 'records_from: incident reports')")
    return records


def check_incident(doc: Document) -> None:
    """An incident report's header line must say what its front matter says (the log is built from it)."""
    missing = INCIDENT_KEYS - set(doc.meta)
    if missing:
        raise KBSourceError(f"{doc.source}: an incident report needs {sorted(missing)} in its front matter")
    line = f"Date: {doc.meta['date']}. Severity: {doc.meta['severity']}. Service: {doc.meta['service']}."
    if line not in doc.body:
        raise KBSourceError(f"{doc.source}: the report text must contain the line {line!r} (it disagrees with "
                            "the front matter)")


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------
def _source(path: str, item: dict[str, Any], where: Path) -> dict[str, Any]:
    if ("page" in item) == ("section" in item):
        raise KBSourceError(f"{where}: question {item.get('id')} needs exactly one of 'section' or 'page'")
    if "page" in item:
        if not isinstance(item["page"], int) or item["page"] < 1:
            raise KBSourceError(f"{where}: question {item.get('id')}: page must be a 1-based number")
        return {"path": path, "page": item["page"]}
    return {"path": path, "section": str(item["section"])}


def question_record(item: dict[str, Any], sources: list[dict[str, Any]], where: Path) -> dict[str, Any]:
    """One line of questions.jsonl from a question in the sources."""
    unknown = set(item) - QUESTION_KEYS
    if unknown:
        raise KBSourceError(f"{where}: question {item.get('id')} has unknown field(s) {sorted(unknown)}")
    if not re.fullmatch(r"q\d{3,}", str(item.get("id", ""))):
        raise KBSourceError(f"{where}: question {item.get('question')!r} needs an id like 'q194' (the next free one)")
    for key in ("question", "answer"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise KBSourceError(f"{where}: question {item['id']}: '{key}' is missing or not text")
    kind = item.get("kind", "single_fact")
    if kind not in KINDS:
        raise KBSourceError(f"{where}: question {item['id']}: kind must be one of {KINDS}")
    aliases = item.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise KBSourceError(f"{where}: question {item['id']}: aliases must be a list of text (quote numbers)")
    return {"id": item["id"], "question": item["question"], "answer": item["answer"], "aliases": aliases,
            "kind": kind, "sources": sources}


def collect_questions(documents: list[Document], spanning: list[dict[str, Any]], src: Path = SRC
                      ) -> list[dict[str, Any]]:
    """Every question, sorted by id; ids must be unique."""
    questions = []
    for doc in documents:
        for item in doc.meta.get("questions", []):
            questions.append(question_record(item, [_source(doc.path, item, doc.source)], doc.source))
    for item in spanning:
        sources = [_source(s["path"], s, src / "questions.yaml") for s in item.get("sources", [])]
        questions.append(question_record(item, sources, src / "questions.yaml"))
    questions.sort(key=lambda q: (len(q["id"]), q["id"]))
    seen: set[str] = set()
    for q in questions:
        if q["id"] in seen:
            raise KBSourceError(f"question id {q['id']} is used twice in {src}; give one of them a free id")
        seen.add(q["id"])
    return questions


# ---------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------
def validate(documents: list[Document], incidents: list[Document], questions: list[dict[str, Any]],
             src: Path) -> None:
    """Check every source and cross-reference; raises KBSourceError naming the file and the fix."""
    paths = {d.path for d in documents}
    for doc in documents:
        if doc.format == "pdf":
            pdf_pages(doc)
        elif doc.format == "csv":
            csv_rows(doc)
        elif doc.format == "json":
            json_records(doc, incidents)
        if doc in incidents:
            check_incident(doc)
        if "supersedes" in doc.meta and doc.meta["supersedes"] not in paths:
            raise KBSourceError(f"{doc.source}: supersedes {doc.meta['supersedes']!r}, which is not a document")
    for q in questions:
        for source in q["sources"]:
            if source["path"] not in paths:
                raise KBSourceError(f"question {q['id']}: source {source['path']!r} is not a document in {src}")


def build(out: Path, src: Path = SRC) -> dict[str, Any]:
    """Render every document of ``src`` into ``out`` (replacing it), with manifest.json and questions.jsonl."""
    company, documents, spanning = load_sources(src)
    questions = collect_questions(documents, spanning, src)
    incidents = [d for d in documents if d.meta["type"] == "incident_report"]
    validate(documents, incidents, questions, src)  # everything is checked before the old output goes
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    for doc in documents:
        target = out / doc.path
        target.parent.mkdir(parents=True, exist_ok=True)
        extra: dict[str, Any] = {}
        if doc.format == "markdown":
            target.write_text(doc.body.strip() + "\n", encoding="utf-8")
        elif doc.format == "pdf":
            extra["pages"] = write_pdf(doc, company["company"], target)
        elif doc.format == "csv":
            rows = csv_rows(doc)
            with target.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh, lineterminator="\n").writerows(rows)
            extra = {"rows": len(rows) - 1, "key": doc.data["key"]}
        else:
            records = json_records(doc, incidents)
            payload = {"title": doc.meta["title"], "date": doc.meta["date"], "records": records}
            target.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            extra = {"records": len(records), "key": doc.data["key"]}
        entry = {"path": doc.path, "title": doc.meta["title"], "type": doc.meta["type"], "format": doc.format,
                 "classification": doc.meta["classification"], "date": doc.meta["date"], **extra}
        if "supersedes" in doc.meta:
            entry["supersedes"] = doc.meta["supersedes"]
        entries.append(entry)
    entries.sort(key=lambda d: d["path"])
    manifest = {"company": company["company"], "internal_projects": company["internal_projects"],
                "generated_by": "scripts/build_kb.py", "documents": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for item in questions:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    return manifest | {"questions": len(questions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--src", type=Path, default=SRC, help="the sources (default data/kb_src)")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "kb")
    args = parser.parse_args()
    try:
        info = build(args.out, args.src)
    except KBSourceError as exc:
        raise SystemExit(f"build_kb: {exc}") from exc
    print(f"Wrote {len(info['documents'])} documents and {info['questions']} questions to {args.out}")


if __name__ == "__main__":
    main()
