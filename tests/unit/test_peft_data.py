"""SST-2 loading and length-bucketed batches."""

import pytest

from genai_lab.peft.data import (
    Tokenized,
    bucketed_batches,
    endless_batches,
    fallback_path,
    read_tsv,
)


def write(tmp_path, text):
    path = tmp_path / "x.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_sentence_and_label(tmp_path):
    examples = read_tsv(write(tmp_path, "sentence\tlabel\ngood fun \t1\nawful\t0\n"))
    assert [(e.text, e.label) for e in examples] == [("good fun", 1), ("awful", 0)]


def test_quotes_are_kept_verbatim(tmp_path):
    examples = read_tsv(write(tmp_path, 'sentence\tlabel\n" a quoted start\t1\n'))
    assert examples[0].text == '" a quoted start'


def test_missing_column_names_the_columns(tmp_path):
    with pytest.raises(ValueError, match=r"no column \['label'\]; its header has \['sentence', 'score'\]"):
        read_tsv(write(tmp_path, "sentence\tscore\ngood\t1\n"))


def test_bad_label_names_the_line(tmp_path):
    with pytest.raises(ValueError, match="line 3: label 'pos' is not 0 or 1"):
        read_tsv(write(tmp_path, "sentence\tlabel\ngood\t1\nbad\tpos\n"))


def test_fallback_set_is_balanced_and_readable():
    examples = read_tsv(fallback_path())
    assert len(examples) >= 40
    assert sum(e.label for e in examples) * 2 == len(examples)


def test_eval_batches_sorted_and_complete():
    lengths = [5, 1, 9, 3, 7, 2]
    batches = bucketed_batches(lengths, 4, shuffle=False)
    assert batches == [[1, 5, 3, 0], [4, 2]]


def test_train_batches_cover_everything_and_group_similar_lengths():
    lengths = [i % 50 for i in range(1000)]
    batches = bucketed_batches(lengths, 8, seed=1, bucket_batches=125)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 5  # random batches of 8 from 0..49 spread about 38
    assert batches != bucketed_batches(lengths, 8, seed=2, bucket_batches=125)


def test_endless_batches_only_full_batches():
    gen = endless_batches([1, 2, 3, 4, 5], batch_size=2)
    assert all(len(next(gen)) == 2 for _ in range(10))


def test_tokenized_left_pads_to_batch_longest():
    class Tok:
        pad_token_id = 0

        def __call__(self, texts, truncation=True, max_length=128):
            return {"input_ids": [[len(w) for w in t.split()] for t in texts]}

    from genai_lab.peft.data import Example

    data = Tokenized([Example("a bb ccc", 1), Example("dddd", 0)], Tok())
    batch = data.batch([0, 1])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [0, 0, 4]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["labels"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        bucketed_batches([1], 0)
