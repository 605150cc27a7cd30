"""When to say "I don't know": the reader's abstention bias, tuned on the dev split.

A SQuAD 2.0 system answers "no answer" when the null answer's score beats the best span's by more than
a threshold, and that threshold is tuned on dev (Devlin et al. 2019, section 4.3; the official
evaluation script reports it as ``best_f1_thresh``). The generative reader has the same choice at its
first token: ``"I"`` (the start of "I don't know") or the start of an answer. Here

* ``gap`` = the logit of ``"I"`` minus the best other logit at the first generated token;
* an **abstention bias** ``b`` is added to the logit of ``"I"``, so the reader abstains when
  ``gap + b > 0``: positive abstains more, negative less, 0 is plain greedy decoding.

One pass over dev with the abstention banned gives every question's gap and its answer
(:func:`first_token_scores`); any bias's answers then follow without generating again
(:func:`answers_at`), and :func:`choose_bias` keeps, of the biases whose answerable F1 stays at least
0.40, the one with the best **balanced** score: the mean of answerable F1 and unanswerable accuracy
(each kind of question counts half, whatever its share).
The chosen bias is saved beside the adapter (:data:`DECODING_FILE`), and every backend applies it
the same way: transformers' ``sequence_bias`` in process, the OpenAI API's ``logit_bias`` on vLLM.

The rule is exact at the first token; later tokens also carry the bias (both APIs bias a token wherever
it occurs), which moves answers that contain the token ``"I"`` a little: :func:`answers_at` is the
dev-set estimate, and the test figures come from real decoding with the bias.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.rag.scoring import ABSTENTION

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

    from genai_lab.reader.evaluate import GreedyReader
    from genai_lab.reader.squad import SquadQuestion

DECODING_FILE = "reader_decoding.json"
GRID = tuple(x / 4 for x in range(-16, 17))  # -4.0 to 4.0 in steps of 0.25
CRITERION = "balanced (mean of hasans_f1 and noans_accuracy) among biases with hasans_f1 >= 0.40 on dev"
MIN_HASANS_F1 = 0.40  # the answerable F1 the chosen bias must keep on dev, where some bias does (choose_bias)
BAN = -100.0  # the bias that bans the abstention (the OpenAI API's lower bound)


def abstention_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The first token of the abstention ``"I don't know"`` (SmolLM2: 57, ``"I"``)."""
    ids = tokenizer(ABSTENTION, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError("The tokenizer turns the abstention into no token.")
    return int(ids[0])


def bias_kwargs(tokenizer: PreTrainedTokenizerBase, bias: float) -> dict[str, Any]:
    """``generate`` keyword arguments that add ``bias`` to the abstention's first token; none for 0."""
    if bias == 0.0:
        return {}
    return {"sequence_bias": {(abstention_token_id(tokenizer),): float(bias)}}


@dataclass
class FirstTokenScores:
    """Per example: ``gap`` (logit of the abstention's first token minus the best other logit, at the
    first generated token) and ``answer`` (the greedy answer with the abstention banned)."""

    gaps: list[float]
    answers: list[str]


def first_token_scores(reader: GreedyReader, examples: Sequence[Any]) -> FirstTokenScores:
    """One pass of ``reader`` over ``examples`` with the abstention banned (:data:`BAN`), keeping each
    answer and the raw first-token logits it began from."""
    token = abstention_token_id(reader.tokenizer)
    answers, logits = reader.read(examples, BAN, first_logits=True)
    gaps = []
    for row in logits:
        others = row.clone()
        others[token] = -math.inf
        gaps.append(float(row[token] - others.max()))
    return FirstTokenScores(gaps, answers)


def answers_at(scores: FirstTokenScores, bias: float) -> list[str]:
    """The answers the reader gives with ``bias`` by the first-token rule: abstain when ``gap + bias > 0``."""
    return [ABSTENTION if g + bias > 0 else a for g, a in zip(scores.gaps, scores.answers, strict=True)]


def sweep(
    questions: Sequence[SquadQuestion], scores: FirstTokenScores, grid: Sequence[float] = GRID
) -> list[dict[str, float]]:
    """For every bias of ``grid``: ``bias``, the SQuAD scores of :func:`~genai_lab.reader.evaluate.squad_report`
    and ``balanced`` (the mean of ``hasans_f1`` and ``noans_accuracy``)."""
    from genai_lab.reader.evaluate import squad_report

    if not any(q.answerable for q in questions) or all(q.answerable for q in questions):
        raise ValueError("Tuning the abstention bias needs answerable and unanswerable questions both.")
    rows = []
    for bias in grid:
        report = squad_report(questions, answers_at(scores, bias))
        rows.append({
            "bias": float(bias), **{k: float(report[k]) for k in ("em", "f1", "hasans_f1", "noans_accuracy")},
            "balanced": (float(report["hasans_f1"]) + float(report["noans_accuracy"])) / 2,
        })
    return rows


def separation(questions: Sequence[SquadQuestion], scores: FirstTokenScores) -> float:
    """How well the gap alone tells unanswerable questions from answerable ones: the ROC AUC (the
    chance that an unanswerable question has a larger gap than an answerable one, ties counting half).
    0.5 is no better than a coin; 1.0 separates them perfectly, so that some bias would be right on every
    abstention decision."""
    no = [g for g, q in zip(scores.gaps, questions, strict=True) if not q.answerable]
    has = [g for g, q in zip(scores.gaps, questions, strict=True) if q.answerable]
    if not no or not has:
        raise ValueError("separation needs answerable and unanswerable questions both.")
    wins = sum(1.0 if n > h else 0.5 if n == h else 0.0 for n in no for h in has)
    return wins / (len(no) * len(has))


def choose_bias(rows: Sequence[dict[str, float]], min_hasans_f1: float = MIN_HASANS_F1) -> float:
    """The bias of the row with the best ``balanced`` score among those whose answerable F1 is at least
    ``min_hasans_f1`` (all rows when none is); of equal ones, the smallest in size (the least change to
    the trained model's own choice).

    Why a floor: when the gap separates the two kinds of question weakly, ``balanced`` (and overall F1
    even more) is flat, and its best point can sit where the reader abstains on most answerable
    questions. In a RAG chain that reader fails its users however well it abstains elsewhere, so the
    course asks for answerable F1 of at least 0.40 (issue 12's bar) first, and the best balance second:
    an operating point chosen with a floor on one side, as one picks a threshold for a minimum recall."""
    if not rows:
        raise ValueError("choose_bias needs the rows of sweep().")
    allowed = [r for r in rows if r["hasans_f1"] >= min_hasans_f1] or list(rows)
    best = max(allowed, key=lambda r: (round(r["balanced"], 9), -abs(r["bias"])))
    return float(best["bias"])


def save_bias(folder: Path, bias: float, token_id: int, about: dict[str, Any]) -> Path:
    """Write :data:`DECODING_FILE` into the adapter ``folder``: the bias, the token it biases (for
    backends without the tokenizer at hand, such as an OpenAI-API client) and how it was chosen."""
    path = Path(folder) / DECODING_FILE
    record = {"abstain_bias": float(bias), "token_id": int(token_id), **about}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def logit_bias(folder: Path | None) -> dict[str, float]:
    """The OpenAI API's ``logit_bias`` (token id as a string: bias) for the adapter in ``folder``; empty
    when it has no tuned bias."""
    record = _read(folder)
    if record is None or record["abstain_bias"] == 0.0:
        return {}
    if not isinstance(record.get("token_id"), int):
        raise ValueError(f"{Path(folder or '') / DECODING_FILE} lacks the integer 'token_id' the bias applies to; "
                         "tune it again with `python -m genai_lab.reader calibrate`.")
    return {str(record["token_id"]): record["abstain_bias"]}


def load_bias(folder: Path | None) -> float:
    """The abstention bias saved beside an adapter; 0.0 (plain greedy) when there is no adapter or no
    :data:`DECODING_FILE`. A file that does not hold a number is an error that names the fix."""
    record = _read(folder)
    return 0.0 if record is None else float(record["abstain_bias"])


def _read(folder: Path | None) -> dict[str, Any] | None:
    """The :data:`DECODING_FILE` of ``folder`` with ``abstain_bias`` checked to be a finite float; None
    when there is no folder or no file."""
    if folder is None or not (Path(folder) / DECODING_FILE).is_file():
        return None
    path = Path(folder) / DECODING_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        value = record["abstain_bias"]
        bias = float(value)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} should be JSON with a number under 'abstain_bias' ({err}). Tune it again with "
            "`python -m genai_lab.reader calibrate --squad FILE --adapter FOLDER`, or delete the file for plain greedy."
        ) from err
    if not math.isfinite(bias):
        raise ValueError(f"{path}: abstain_bias must be a finite number, got {value!r}.")
    return {**record, "abstain_bias": bias}
