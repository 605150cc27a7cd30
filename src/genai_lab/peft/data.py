"""SST-2 (or the project's small fallback set), tokenised into length-bucketed batches.

Sentences differ a lot in length (SST-2: 2 to 60 tokens). Padding every batch to a fixed length
wastes most of the compute on pad tokens; grouping sentences of similar length into a batch and
padding only to the longest in that batch ("bucketing") does not.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genai_lab.paths import benchmark, data_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedTokenizerBase

FALLBACK_FILE = "sentiment_fallback.tsv"
LABEL_NAMES = ("negative", "positive")


@dataclass(frozen=True)
class Example:
    text: str
    label: int


def read_tsv(path: str | Path, text_column: str = "sentence", label_column: str = "label") -> list[Example]:
    """Read a ``sentence<TAB>label`` file with a header line. Raises ``ValueError`` naming the
    columns the file has when one is missing, and the line of any label that is not 0 or 1."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty; expected a header line '{text_column}\\t{label_column}'.")
        header = [h.strip() for h in header]
        missing = [c for c in (text_column, label_column) if c not in header]
        if missing:
            raise ValueError(
                f"{path} has no column {missing}; its header has {header}. Expected a tab-separated "
                f"file with the columns '{text_column}' and '{label_column}' (GLUE SST-2 layout)."
            )
        ti, li = header.index(text_column), header.index(label_column)
        out = []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            label = row[li].strip()
            if label not in ("0", "1"):
                raise ValueError(f"{path}, line {line_no}: label {label!r} is not 0 or 1.")
            out.append(Example(row[ti].strip(), int(label)))
    return out


def fallback_path() -> Path:
    """The small labelled sentiment set the project wrote itself (``data/sentiment_fallback.tsv``)."""
    return data_dir() / FALLBACK_FILE


def load_sst2(split: str = "train", limit: int | None = None, seed: int = 0) -> tuple[list[Example], str]:
    """GLUE SST-2 ``train`` or ``dev`` from the benchmark folder, or, when that folder is absent,
    the project's small fallback set (its first two thirds as ``train``, the rest as ``dev``).

    Returns the examples and a one-line description of where they came from. ``limit`` keeps a
    random subset of that size (fixed ``seed``).
    """
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}.")
    folder = benchmark("sst2")
    if folder is not None:
        examples = read_tsv(folder / f"{split}.tsv")
        source = f"GLUE SST-2 {split} ({folder / (split + '.tsv')}, {len(examples)} sentences)"
    else:
        every = read_tsv(fallback_path())
        cut = len(every) * 2 // 3
        examples = every[:cut] if split == "train" else every[cut:]
        source = (
            f"FALLBACK: the project's own small sentiment set ({fallback_path().name}, {split}: "
            f"{len(examples)} sentences), NOT SST-2; the benchmark folder is absent"
        )
    if limit is not None and limit < len(examples):
        examples = random.Random(seed).sample(examples, limit)
    return examples, source


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0, bucket_batches: int = 50
) -> list[list[int]]:
    """Index batches of similar length. With ``shuffle``, the data are shuffled, cut into buckets
    of ``bucket_batches`` batches, sorted by length inside each bucket, and the batches shuffled;
    without it, all indices are sorted by length (best for evaluation)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = list(range(len(lengths)))
    if not shuffle:
        order.sort(key=lambda i: lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(order)
    size = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), size):
        bucket = sorted(order[start : start + size], key=lambda i: lengths[i])
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    rng.shuffle(batches)
    return batches


def endless_batches(lengths: Sequence[int], batch_size: int, seed: int = 0) -> Iterator[list[int]]:
    """Bucketed training batches forever, reshuffled every epoch; only full batches are yielded."""
    epoch = 0
    while True:
        for batch in bucketed_batches(lengths, batch_size, shuffle=True, seed=seed + epoch):
            if len(batch) == batch_size:
                yield batch
        epoch += 1


class Tokenized:
    """Examples tokenised once, ready to be cut into padded batches (left padding, so that the last
    position is always the last real token, which is where a decoder's classification head reads)."""

    def __init__(
        self,
        examples: Sequence[Example],
        tokenizer: PreTrainedTokenizerBase,
        template: str = "{text}",
        max_length: int = 128,
    ) -> None:
        self.examples = list(examples)
        self.tokenizer = tokenizer
        texts = [template.format(text=e.text) for e in self.examples]
        self.ids: list[list[int]] = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        self.labels = [e.label for e in self.examples]

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def lengths(self) -> list[int]:
        return [len(i) for i in self.ids]

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` (left-padded to the longest in the batch) and ``labels``."""
        import torch

        pad = self.tokenizer.pad_token_id
        if pad is None:
            raise ValueError("The tokenizer has no pad token; set tokenizer.pad_token = tokenizer.eos_token.")
        width = max(len(self.ids[i]) for i in indices)
        ids = torch.full((len(indices), width), pad, dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            seq = self.ids[i]
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, width - len(seq) :] = 1
        labels = torch.tensor([self.labels[i] for i in indices], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
