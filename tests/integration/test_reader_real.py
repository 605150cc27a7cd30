"""The grounded reader on the real SmolLM2: the eval command end to end (base model, a few questions),
greedy batched answers that do not depend on the batch, and a short seed-LoRA run saved small."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genai_lab.reader import squad

MINI = {"version": "v2.0", "data": [{"title": "Normans", "paragraphs": [{
    "context": "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
               "a region in France. Their leader was Rollo.",
    "qas": [
        {"id": "a1", "question": "In what country is Normandy located?", "is_impossible": False,
         "answers": [{"text": "France", "answer_start": 105}]},
        {"id": "a2", "question": "Who was the leader of the Normans?", "is_impossible": False,
         "answers": [{"text": "Rollo", "answer_start": 135}]},
        {"id": "u1", "question": "Who was the leader of the Vikings in 1500?", "is_impossible": True, "answers": []},
    ]}]}]}


@pytest.fixture(scope="module")
def smollm2():
    from genai_lab.models import load_smollm2

    return load_smollm2()


@pytest.mark.real_model
def test_eval_command_prints_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(MINI), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "genai_lab.reader", "eval", "--squad", str(path), "--base"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert list(report) == ["em", "f1", "hasans_f1", "noans_accuracy", "n"] and report["n"] == 3
    assert all(0.0 <= report[k] <= 1.0 for k in ("em", "f1", "hasans_f1", "noans_accuracy"))


@pytest.mark.real_model
def test_the_eval_command_without_an_adapter_says_how_to_train(tmp_path: Path) -> None:
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(MINI), encoding="utf-8")
    command = [sys.executable, "-m", "genai_lab.reader", "eval", "--squad", str(path), "--adapter", str(tmp_path / "x")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 2 and "python -m genai_lab.reader train" in done.stderr and not done.stdout


@pytest.mark.real_model
def test_batched_left_padded_answers_equal_one_at_a_time(smollm2, tmp_path: Path) -> None:
    from genai_lab.reader.evaluate import GreedyReader

    path = tmp_path / "mini.json"
    path.write_text(json.dumps(MINI), encoding="utf-8")
    examples = [squad.to_example(q) for q in squad.load_squad(path)]
    model, tokenizer = smollm2
    batched = GreedyReader(model, tokenizer, max_new_tokens=12, batch_size=3)(examples)
    single = GreedyReader(model, tokenizer, max_new_tokens=12, batch_size=1)(examples)
    assert batched == single and all(isinstance(a, str) and a for a in batched)


@pytest.mark.real_model
def test_two_seed_lora_steps_and_a_small_adapter(tmp_path: Path) -> None:
    from genai_lab.models import load_smollm2
    from genai_lab.reader.kb import KnowledgeBase, build_examples
    from genai_lab.reader.train import ReaderTrainConfig, add_seed_lora, save_reader, train_reader

    model, tokenizer = load_smollm2()
    reader = add_seed_lora(model)
    examples = build_examples(KnowledgeBase.load(), "train")[:4]
    config = ReaderTrainConfig(max_steps=2, batch_size=2)
    curve = train_reader(reader, tokenizer, examples, config, progress=False)
    assert curve.steps == 2 and all(0 < loss < 20 for loss in curve.loss)
    out = save_reader(reader, curve, tmp_path / "adapter", config)
    size = sum(f.stat().st_size for f in out.iterdir())
    assert size < 5 * 1024**2, f"the adapter should be small enough to commit, got {size} bytes"


@pytest.mark.real_model
def test_the_committed_adapter_reads_and_abstains_in_process() -> None:
    """The committed reader adapter, loaded through peft as the chain loads it, answers from the
    passage with a citation and abstains when the passage lacks the answer."""
    from genai_lab.rag.llm import get_chat_model
    from genai_lab.reader.train import adapter_dir

    assert (adapter_dir() / "adapter_config.json").is_file(), "commit data/reader/adapter (notebook 35 trains it)"
    llm = get_chat_model("transformers", max_new_tokens=24)
    assert llm.reader == "reader"
    from genai_lab.reader.calibrate import abstention_token_id, load_bias

    # The abstention bias tuned for the adapter (notebook 35, section 6) is on the generation config.
    bias = load_bias(adapter_dir())
    generation = llm.llm.pipeline.model.generation_config
    tokenizer = llm.llm.pipeline.tokenizer
    assert generation.sequence_bias == ({(abstention_token_id(tokenizer),): bias} if bias else None)
    from langchain_core.documents import Document

    from genai_lab.rag.chain import format_docs, grounded_prompt

    docs = [Document(page_content="The Atrium Hub H2 connects up to 64 sensors.", metadata={"source": "hub.md"}),
            Document(page_content="Employees get 27 days of annual leave.", metadata={"source": "leave.md"})]
    context = format_docs(docs)
    prompt = grounded_prompt()
    answer = llm.invoke(prompt.format_messages(context=context, question="How many sensors can the hub connect?"))
    assert "64" in answer.content and "[1]" in answer.content, answer.content
    answer = llm.invoke(prompt.format_messages(context=context, question="What is the CEO's salary?"))
    assert answer.content.startswith("I don't know"), answer.content


@pytest.mark.real_model
def test_vllm_serves_the_reader_as_a_lora_module(tmp_path: Path) -> None:
    """vLLM loads the committed adapter as a LoRA module (``--enable-lora --lora-modules reader=PATH``)
    beside the base model, and get_chat_model asks for it."""
    from genai_lab.rag.llm import get_chat_model, served_models
    from genai_lab.reader.train import adapter_dir
    from genai_lab.serving.server import VLLMServer

    server = VLLMServer(kv_cache_memory_bytes=128 * 1024**2, max_model_len=1024, log_path=tmp_path / "vllm.log",
                        startup_timeout=400, lora_modules={"reader": adapter_dir()})
    with server:
        assert set(served_models(server.base_url) or []) == {"smollm2", "reader"}
        llm = get_chat_model("vllm", base_url=server.base_url, max_new_tokens=24)
        assert llm.reader == "reader"
        from genai_lab.reader.calibrate import logit_bias

        # The same abstention bias as in process, sent as logit_bias (which vLLM must accept: invoke below).
        assert (llm.extra_body or {}).get("logit_bias", {}) == logit_bias(adapter_dir())
        from langchain_core.documents import Document

        from genai_lab.rag.chain import format_docs, grounded_prompt

        docs = [Document(page_content="The Atrium Hub H2 connects up to 64 sensors.", metadata={"source": "hub.md"})]
        question = "How many sensors can the hub connect?"
        prompt = grounded_prompt().format_messages(context=format_docs(docs), question=question)
        reader_answer = llm.invoke(prompt).content
        base = get_chat_model("vllm", base_url=server.base_url, max_new_tokens=24, reader="base")
        base_answer = base.invoke(prompt).content
        # The module is applied: the reader answers in its trained form (a short answer with its citation,
        # or exactly "I don't know"), where the base model writes a sentence of its own.
        assert reader_answer == "I don't know" or re.fullmatch(r".{1,40} \[\d\]", reader_answer), reader_answer
        assert reader_answer != base_answer, (reader_answer, base_answer)
