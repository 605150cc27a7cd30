"""The exercises issue 17 added to labs 22, 23 and 30 refuse plausible wrong answers.

As in ``test_lab_wrong_answers.py`` (whose helpers this module reuses): each check runs on the
solution's own cells, first as written (it must pass), then with one exercise's ``### BEGIN SOLUTION``
block replaced by a plausible wrong answer, which must fail with the check's ``AssertionError`` hint.
That every check also fails on the unsolved lab is proven by the integration test
``test_unsolved_lab_check_cells_fail_helpfully``. Only the exercise's own cells run, in-process: no
model, no server (lab 22's server is a fake ``httpx`` transport that answers with the recorded stream).
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest

from tests.unit.test_lab_wrong_answers import SOLUTIONS, cell, run, with_answer


def solved(notebook: str, function: str, answer: str | None, *needles: str) -> dict[str, Any]:
    """Run the cells found by ``needles`` in order; the cell that defines ``function`` gets ``answer``."""
    sources = []
    for needle in needles:
        source = cell(notebook, needle)
        if answer is not None and f"def {function}(" in source:
            source = with_answer(source, function, answer)
        sources.append(source)
    return run(*sources)


@pytest.mark.parametrize(
    ("notebook", "numbers"),
    [
        ("22_vllm_serving.ipynb", ["1", "2", "3", "4"]),
        ("23_quantization_routing.ipynb", ["1", "2", "3", "4", "5"]),
        ("30_chunker_with_overlap.ipynb", ["1", "2", "3", "4"]),
    ],
)
def test_exercises_are_numbered_consecutively(notebook, numbers):
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    found = [m.group(1) for source in markdown for m in re.finditer(r"^## Exercise (\d+)", source, re.M)]
    assert found == numbers


# --------------------------------------------------------------------------------------------------
# Lab 22, exercise 4: a chat request for a served LoRA module, and the stream that answers it
# --------------------------------------------------------------------------------------------------
LAB22 = "22_vllm_serving.ipynb"
LAB22_CELLS = ('RECORDED = """', "def chat_request(", "def fake_vllm(", "reply = parse_chat_stream(")

REQUEST_WRONG = {
    "asks for no usage": (
        """
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": question})
        return {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True}
        """,
        "stream_options",
    ),
    "the completions API's prompt": (
        """
        prompt = f"{system}\\n\\n{question}" if system else question
        return {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "stream": True,
                "stream_options": {"include_usage": True}}
        """,
        "messages: a list of",
    ),
    "the system message last": (
        """
        messages = [{"role": "user", "content": question}]
        if system:
            messages.append({"role": "system", "content": system})
        return {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True,
                "stream_options": {"include_usage": True}}
        """,
        "the system message first",
    ),
}

# each answer keeps chat_request solved, so that the first check passes and the stream check runs
STREAM_WRONG = {
    "counts the chunks as tokens": (
        """
        pieces = []
        for line in lines:
            if line.startswith("data: {"):
                for choice in json.loads(line[len("data: "):])["choices"]:
                    pieces.append(choice["delta"].get("content") or "")
        n = sum(1 for p in pieces if p)
        return {"text": "".join(pieces), "finish_reason": "stop", "usage": {"completion_tokens": n}}
        """,
        "do not count chunks",
    ),
    "stops at the finish reason": (
        """
        pieces, usage = [], None
        for line in lines:
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[len("data: "):])
            usage = chunk.get("usage") or usage
            choice = chunk["choices"][0]
            pieces.append(choice["delta"].get("content") or "")
            if choice.get("finish_reason"):
                return {"text": "".join(pieces), "finish_reason": choice["finish_reason"], "usage": usage}
        raise ValueError("no finish reason")
        """,
        "read it from the last chunk",
    ),
    "trusts a cut stream": (
        """
        pieces, finish_reason, usage = [], None, None
        for line in lines:
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[len("data: "):])
            for choice in chunk["choices"]:
                pieces.append(choice["delta"].get("content") or "")
                finish_reason = choice.get("finish_reason") or finish_reason
            usage = chunk.get("usage") or usage
        return {"text": "".join(pieces), "finish_reason": finish_reason, "usage": usage}
        """,
        r"before 'data: \[DONE\]'",
    ),
}


def lab22(function: str = "", answer: str | None = None) -> dict[str, Any]:
    return solved(LAB22, function, answer, *LAB22_CELLS)


def test_lab22_checks_pass_the_solution_and_read_the_recorded_stream():
    lab = lab22()
    assert lab["reply"]["text"] == "Up to 64 Brightwater sensors."
    assert lab["reply"]["usage"]["completion_tokens"] == 10
    assert lab["reference"]["model"] == "reader"


@pytest.mark.parametrize("wrong", REQUEST_WRONG, ids=list(REQUEST_WRONG))
def test_lab22_request_check_refuses(wrong):
    body, hint = REQUEST_WRONG[wrong]
    with pytest.raises(AssertionError, match=hint):
        lab22("chat_request", body)


@pytest.mark.parametrize("wrong", STREAM_WRONG, ids=list(STREAM_WRONG))
def test_lab22_stream_check_refuses(wrong):
    body, hint = STREAM_WRONG[wrong]
    with pytest.raises(AssertionError, match=hint):
        lab22("parse_chat_stream", body)


# --------------------------------------------------------------------------------------------------
# Lab 23, exercise 5: per-channel int8 weights
# --------------------------------------------------------------------------------------------------
LAB23 = "23_quantization_routing.ipynb"
QUANT_WRONG = {
    "one scale for the tensor, repeated per row": (
        """
        scale = (w.abs().max() / 127).expand(w.shape[0], 1)
        return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale
        """,
        "each row's largest weight",
    ),
    "one scale per input column": (
        """
        scale = w.abs().amax(dim=0, keepdim=True).clamp(min=1e-12) / 127
        return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale
        """,
        r"shape \[out_features, 1\]",
    ),
    "truncates instead of rounding": (
        """
        amax = w.abs().amax(dim=1, keepdim=True)
        scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
        return (w / scale).clamp(-127, 127).to(torch.int8), scale
        """,
        "round to the nearest level|largest weight",
    ),
    "divides by 128, uses -128": (
        """
        amax = w.abs().amax(dim=1, keepdim=True)
        scale = torch.where(amax > 0, amax / 128, torch.ones_like(amax))
        return torch.round(w / scale).clamp(-128, 127).to(torch.int8), scale
        """,
        r"\[-127, 127\]",
    ),
    "no guard for a row of zeros": (
        """
        scale = w.abs().amax(dim=1, keepdim=True) / 127
        return torch.round(w / scale).nan_to_num(0.0).clamp(-127, 127).to(torch.int8), scale
        """,
        "scale 1.0",
    ),
}


def lab23(answer: str | None = None) -> dict[str, Any]:
    cells = ("def quantize_per_channel(", "q, scale = quantize_per_channel(w)")
    return solved(LAB23, "quantize_per_channel", answer, *cells)


def test_lab23_check_passes_the_solution():
    lab = lab23()
    assert lab["gain"] > 100
    assert tuple(lab["scale"].shape) == (64, 1)


@pytest.mark.parametrize("wrong", QUANT_WRONG, ids=list(QUANT_WRONG))
def test_lab23_quantization_check_refuses(wrong):
    body, hint = QUANT_WRONG[wrong]
    with pytest.raises(AssertionError, match=hint):
        lab23(body)


# --------------------------------------------------------------------------------------------------
# Lab 30, exercise 4: metadata filters and a CSV loader
# --------------------------------------------------------------------------------------------------
LAB30 = "30_chunker_with_overlap.ipynb"
WHERE_WRONG = {
    "any condition, not every one": (
        "return [d for d in docs if any(d.metadata.get(k) == v for k, v in conditions.items())]",
        "every condition must hold",
    ),
    "substring match": (
        "return [d for d in docs if all(str(v) in str(d.metadata.get(k)) for k, v in conditions.items())]",
        "match values exactly",
    ),
}
_CSV_TAIL = """
    key = record[header[0]]
    body = " | ".join(f"{column}: {value}" for column, value in record.items())
    metadata = {"source": SOURCE, "page": None, "section": key, "type": "csv", "row": ROW}
    documents.append(Document(page_content=f"{title}, {key}: {body}", metadata=metadata))
return documents
"""
_CSV_READ = """
with open(path, newline="", encoding="utf-8") as handle:
    rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
header = [h.strip() for h in rows[0]]
title = Path(path).stem.replace("_", " ")
documents = []
for number, row in enumerate(rows[1:], start=1):
    record = dict(zip(header, (cell.strip() for cell in row), strict=True))
"""
_CSV_SPLIT = """
lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
header = lines[0].split(",")
title = Path(path).stem.replace("_", " ")
documents = []
for number, line in enumerate(lines[1:], start=1):
    record = dict(zip(header, line.split(",")))
"""
CSV_WRONG = {
    "splits lines on commas": (
        _CSV_SPLIT
        + _CSV_TAIL.replace("SOURCE", "source").replace("ROW", "number"),
        "a quoted value is one field",
    ),
    "the header as a row": (
        _CSV_READ.replace("rows[1:], start=1", "rows, start=1")
        + _CSV_TAIL.replace("SOURCE", "source").replace("ROW", "number"),
        "two data rows make two documents",
    ),
    "rows numbered from zero": (
        _CSV_READ.replace("start=1", "start=0") + _CSV_TAIL.replace("SOURCE", "source").replace("ROW", "number"),
        "number the data rows from 1",
    ),
    "the file's name as source": (
        _CSV_READ + _CSV_TAIL.replace("SOURCE", "Path(path).name").replace("ROW", "number"),
        "source is the path you were given",
    ),
}


def lab30_where(answer: str | None = None) -> dict[str, Any]:
    return solved(LAB30, "where", answer, "workdir = tempfile", "def where(", "returns = where(docs")


def lab30_csv(answer: str | None = None) -> dict[str, Any]:
    return solved(LAB30, "load_csv_rows", answer, "workdir = tempfile", "def where(", "def load_csv_rows(",
                  "mine = load_csv_rows(")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_lab30_checks_pass_the_solution():
    lab = lab30_where()
    assert [d.metadata["type"] for d in lab["docs"]].count("csv") == 2
    lab = lab30_csv()
    assert lab["mine"][0].metadata == {"source": "tables/price_list.csv", "page": None, "section": "H2-EU",
                                       "type": "csv", "row": 1}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("wrong", WHERE_WRONG, ids=list(WHERE_WRONG))
def test_lab30_where_check_refuses(wrong):
    body, hint = WHERE_WRONG[wrong]
    with pytest.raises(AssertionError, match=hint):
        lab30_where(body)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("wrong", CSV_WRONG, ids=list(CSV_WRONG))
def test_lab30_csv_check_refuses(wrong):
    body, hint = CSV_WRONG[wrong]
    with pytest.raises(AssertionError, match=hint):
        lab30_csv(body)
