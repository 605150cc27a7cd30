"""Per-request LoRA adapters on one base model (genai_lab.app.adapters), on a tiny random Llama."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from peft import LoraConfig, get_peft_model

from genai_lab.app.adapters import AdapterSwitch, parse_adapter_args, switched
from genai_lab.app.fake import FakeChatModel
from genai_lab.models import tiny_llama

IDS = torch.tensor([[5, 17, 42, 9, 3]])


def logits(model) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=IDS).logits


@pytest.fixture
def saved_adapters(tmp_path):
    """Two LoRA adapters with random (non-zero) weights, saved like Part 1 saves them."""
    paths = {}
    for i, name in enumerate(["style", "terse"]):
        base = tiny_llama(seed=0)
        torch.manual_seed(10 + i)  # after the base: each adapter gets its own random weights
        config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        peft_model = get_peft_model(base, config)
        peft_model.save_pretrained(tmp_path / name)
        paths[name] = tmp_path / name
    return paths


def test_switch_applies_each_adapter_only_to_its_requests(saved_adapters):
    reference = logits(tiny_llama(seed=0))
    switch = AdapterSwitch.load(tiny_llama(seed=0), saved_adapters)
    assert switch.names == ["style", "terse"]
    with switch.use(None):
        torch.testing.assert_close(logits(switch.model), reference)  # plain requests: the base model
    with switch.use("style"):
        style = logits(switch.model)
    with switch.use("terse"):
        terse = logits(switch.model)
    assert not torch.allclose(style, reference) and not torch.allclose(terse, reference)
    assert not torch.allclose(style, terse)
    with switch.use(None):  # switching back leaves no trace
        torch.testing.assert_close(logits(switch.model), reference)
    with switch.use("style"):
        torch.testing.assert_close(logits(switch.model), style)
    with pytest.raises(KeyError, match="loaded: style, terse"):
        with switch.use("pirate"):
            pass


def test_switched_chat_holds_the_switch_for_the_whole_stream(saved_adapters):
    switch = AdapterSwitch.load(tiny_llama(seed=0), saved_adapters)
    seen: list[tuple[bool, object]] = []

    class Recording(FakeChatModel):
        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            for word in ("two", " years"):
                seen.append((switch.lock.locked(), switch.model.active_adapter))
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))

    chat = switched(Recording(), switch, "terse")
    pieces = [c.content for c in chat.stream("How long?") if c.content]
    assert pieces == ["two", " years"]
    assert seen == [(True, "terse"), (True, "terse")]
    assert not switch.lock.locked()


def test_bad_adapter_arguments_and_folders_name_the_fix(tmp_path):
    assert parse_adapter_args(["style=/tmp/x"]) == {"style": __import__("pathlib").Path("/tmp/x")}
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_adapter_args(["style"])
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        AdapterSwitch.load(tiny_llama(), {"style": tmp_path})
    with pytest.raises(ValueError, match="at least one adapter"):
        AdapterSwitch.load(tiny_llama(), {})


def test_bridged_adapter_stream_releases_the_switch_when_the_request_is_cancelled(saved_adapters):
    import asyncio
    import time

    from genai_lab.app.backends import threaded

    switch = AdapterSwitch.load(tiny_llama(seed=0), saved_adapters)

    class Slow(FakeChatModel):
        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            for word in ("two", " years", " of", " warranty") * 5:
                time.sleep(0.02)
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))

    chat = threaded(switched(Slow(), switch, "terse"))

    async def first_piece_then_leave() -> bool:
        stream = chat.astream("How long?")
        async for _ in stream:
            held = switch.lock.locked() and switch.model.active_adapter == "terse"
            break
        await stream.aclose()
        return held

    assert asyncio.run(first_piece_then_leave())  # the adapter was on while answering
    deadline = time.monotonic() + 5
    while switch.lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not switch.lock.locked(), "a cancelled adapter request must release the switch for the next one"
