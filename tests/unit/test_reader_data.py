"""The reader's prompt and loss mask: only the answer and its end-of-turn token are learned."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from genai_lab.reader.data import (
    IGNORE_INDEX,
    ReaderExample,
    TokenizedExample,
    answer_with_citation,
    collate,
    prompt_messages,
    prompt_text,
    strip_citations,
    tokenize_example,
)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from genai_lab.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())


def example(target: str = "64 sensors [2]") -> ReaderExample:
    docs = [
        Document(page_content="The Gateway G5 links 32 sensors.", metadata={"source": "manuals/g5.pdf", "page": 2}),
        Document(page_content="The Hub H2 links up to 64 sensors.", metadata={"source": "manuals/h2.pdf", "page": 3}),
    ]
    return ReaderExample("x1", "How many sensors can the Hub H2 link?", docs, target, "grounded",
                         golds=["64"], cite=[2])


def check_answer_only_mask(tokenizer, ex: ReaderExample, item: TokenizedExample) -> None:
    """The labelled positions are exactly the target's tokens followed by <|im_end|>, at the end; every
    other position is -100; and the labels there equal the input ids."""
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    answer = tokenizer(ex.target, add_special_tokens=False)["input_ids"] + [eot]
    labelled = [i for i, label in enumerate(item.labels) if label != IGNORE_INDEX]
    assert labelled == list(range(len(item) - len(answer), len(item)))
    assert [item.labels[i] for i in labelled] == answer == item.input_ids[-len(answer):]
    assert tokenizer.decode([item.labels[i] for i in labelled]) == ex.target + "<|im_end|>"


def test_the_loss_mask_covers_exactly_the_answer_and_its_end_of_turn(tokenizer) -> None:
    ex = example()
    item = tokenize_example(tokenizer, ex)
    check_answer_only_mask(tokenizer, ex, item)
    # the whole sequence is the chat template's rendering of the conversation, minus its final newline
    full = tokenizer.apply_chat_template(
        [*prompt_messages(ex.docs, ex.question), {"role": "assistant", "content": ex.target}], tokenize=False
    )
    assert tokenizer.decode(item.input_ids) + "\n" == full
    assert item.answer_tokens == len(tokenizer(ex.target, add_special_tokens=False)["input_ids"]) + 1


def test_a_mask_that_also_trains_on_the_prompt_fails_the_check(tokenizer) -> None:
    ex = example()
    good = tokenize_example(tokenizer, ex)
    wrong = TokenizedExample(good.input_ids, list(good.input_ids))  # loss on every token, prompt included
    with pytest.raises(AssertionError):
        check_answer_only_mask(tokenizer, ex, wrong)
    no_eot = TokenizedExample(good.input_ids, good.labels[:-1] + [IGNORE_INDEX])  # end-of-turn not learned
    with pytest.raises(AssertionError):
        check_answer_only_mask(tokenizer, ex, no_eot)


def test_the_prompt_is_the_chains_grounded_prompt(tokenizer) -> None:
    from genai_lab.rag.chain import SYSTEM_PROMPT, format_docs

    ex = example()
    system, user = prompt_messages(ex.docs, ex.question)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user" and format_docs(ex.docs) in user["content"]
    assert user["content"].startswith("<documents>\n[1] (manuals/g5.pdf, page 2)")
    assert user["content"].endswith(f"Question: {ex.question}")
    assert prompt_text(tokenizer, ex.docs, ex.question).endswith("<|im_start|>assistant\n")


def test_collate_right_pads_and_ignores_the_padding(tokenizer) -> None:
    a, b = TokenizedExample([5, 6, 7], [IGNORE_INDEX, 6, 7]), TokenizedExample([8], [8])
    batch = collate([a, b], pad_token_id=2)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    with pytest.raises(ValueError):
        collate([], 2)


def test_targets_and_citation_stripping() -> None:
    assert answer_with_citation("45 EUR", [2]) == "45 EUR [2]"
    assert answer_with_citation("Marta Kowalczyk", [1, 3]) == "Marta Kowalczyk [1, 3]"
    assert answer_with_citation("anything", []) == "I don't know"
    assert strip_citations("France [1]") == "France"
    assert strip_citations("in 1066 [1, 2].") == "in 1066."
    assert strip_citations("the 1990s") == "the 1990s"


def test_an_empty_target_is_refused(tokenizer) -> None:
    with pytest.raises(ValueError, match="empty target"):
        tokenize_example(tokenizer, example(target="  "))
