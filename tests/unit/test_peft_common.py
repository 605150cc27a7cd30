"""One set of invariants over every PEFT method, ours and ``peft``'s, after ``peft``'s own
``tests/testing_common.py`` (a ``PeftCommonTester`` whose ``_test_*`` methods every method's test class
runs): each :class:`Case` says how to apply a method to the tiny random Llama and how to switch it off,
merge it, save and load it; the tests below hold for every case that supports the operation.

What "starts as the base" means differs by method, and each case says which holds:

- LoRA (``B = 0``): exactly the base model.
- Bottleneck adapter (tiny weights, zero biases): close to the base model, not equal.
- Prompt tuning: never the base model on the same input, since it adds positions; what holds instead is
  that a prompt equal to the embeddings of tokens ``V`` makes the model read ``V`` first, exactly.
- Prefix tuning: not the base model at all: a random prefix is attended to from the first step (keys and
  values, even zero ones, take part in every softmax); only disabling gives the base back.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from genai_lab.models import tiny_llama
from genai_lab.peft.adapters import adapters_disabled, add_adapters
from genai_lab.peft.common import load_trainable, save_trainable
from genai_lab.peft.lora import inject_lora, lora_disabled, merge_lora, unmerge_lora
from genai_lab.peft.prompts import PrefixTuning, PromptTuning

IDS = torch.tensor([[5, 17, 33, 2, 90, 11], [7, 7, 64, 120, 3, 9]])
MASK = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
VIRTUAL = 4  # virtual tokens of the prompt and prefix cases
READ_FIRST = torch.tensor([40, 41, 42, 43])  # the tokens a prompt is set to in the prompt cases


@functools.cache
def _tiny() -> nn.Module:
    return tiny_llama(seed=0)


def tiny() -> nn.Module:
    """A fresh copy of the tiny random Llama (built once: copying is much cheaper than building)."""
    return copy.deepcopy(_tiny())


@dataclass(frozen=True)
class Case:
    """How one method is applied, switched off, merged, saved and loaded."""

    name: str
    prepare: Callable[[nn.Module], nn.Module]  # base model -> the model to call and train
    is_adapter_param: Callable[[str], bool]  # by the name in the prepared model
    disabled: Callable[[nn.Module], Any]  # a context manager inside which the base model answers
    start: str  # "exact", "close", "reads_prompt_first" or "differs" (see the module docstring)
    save: Callable[[nn.Module, Path], None]
    load: Callable[[Path], nn.Module]  # a fresh prepared model with the saved weights loaded
    merge: Callable[[nn.Module], None] | None = None
    unmerge: Callable[[nn.Module], None] | None = None
    prompt: Callable[[nn.Module], nn.Parameter] | None = None  # the prompt cases' virtual-token embeddings


def call(model: nn.Module) -> torch.Tensor:
    return model(input_ids=IDS, attention_mask=MASK).logits


# ---- our implementations ------------------------------------------------------------------------
def _ours_save(model: nn.Module, path: Path) -> None:
    save_trainable(model, path / "adapter.safetensors")


def _ours_load(prepare: Callable[[nn.Module], nn.Module]) -> Callable[[Path], nn.Module]:
    def load(path: Path) -> nn.Module:
        model = prepare(tiny())
        load_trainable(model, path / "adapter.safetensors")
        return model

    return load


@contextmanager
def _wrapped_base(model: nn.Module) -> Iterator[None]:
    """Our prompt and prefix wrappers keep the untouched base as ``.model``: calling it is "disabled"."""
    forward = model.forward
    model.forward = model.model.forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        model.forward = forward  # type: ignore[method-assign]


def _ours_lora(model: nn.Module) -> nn.Module:
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    return model


def _ours_adapter(model: nn.Module) -> nn.Module:
    add_adapters(model, bottleneck=4)
    return model


def _ours_prompt(model: nn.Module) -> nn.Module:
    return PromptTuning(model, num_virtual_tokens=VIRTUAL)


def _ours_prefix(model: nn.Module) -> nn.Module:
    return PrefixTuning(model, num_virtual_tokens=VIRTUAL, projection_hidden=8)


# ---- peft's counterparts ----------------------------------------------------------------------------
def _peft(config_factory: Callable[[], Any]) -> Callable[[nn.Module], nn.Module]:
    def prepare(model: nn.Module) -> nn.Module:
        from peft import get_peft_model

        return get_peft_model(model, config_factory())

    return prepare


def _peft_save(model: nn.Module, path: Path) -> None:
    model.save_pretrained(path)  # type: ignore[operator]


def _peft_load(path: Path) -> nn.Module:
    from peft import PeftModel

    return PeftModel.from_pretrained(tiny(), path).eval()


def _lora_config() -> Any:
    from peft import LoraConfig

    return LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])


def _prompt_config() -> Any:
    from peft import PromptTuningConfig

    return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=VIRTUAL)


def _prefix_config() -> Any:
    from peft import PrefixTuningConfig

    return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=VIRTUAL)


CASES = [
    Case("ours-lora", _ours_lora, lambda n: "lora_" in n, lora_disabled, "exact", _ours_save,
         _ours_load(_ours_lora), merge=merge_lora, unmerge=unmerge_lora),
    Case("ours-adapter", _ours_adapter, lambda n: ".adapter." in n, adapters_disabled, "close", _ours_save,
         _ours_load(_ours_adapter)),
    Case("ours-prompt", _ours_prompt, lambda n: n == "prompt", _wrapped_base, "reads_prompt_first", _ours_save,
         _ours_load(_ours_prompt), prompt=lambda m: m.prompt),
    Case("ours-prefix", _ours_prefix, lambda n: n.startswith("encoder."), _wrapped_base, "differs", _ours_save,
         _ours_load(_ours_prefix)),
    Case("peft-lora", _peft(_lora_config), lambda n: "lora_" in n, lambda m: m.disable_adapter(), "exact",
         _peft_save, _peft_load, merge=lambda m: m.merge_adapter(), unmerge=lambda m: m.unmerge_adapter()),
    Case("peft-prompt", _peft(_prompt_config), lambda n: "prompt_encoder" in n, lambda m: m.disable_adapter(),
         "reads_prompt_first", _peft_save, _peft_load,
         prompt=lambda m: m.prompt_encoder["default"].embedding.weight),
    Case("peft-prefix", _peft(_prefix_config), lambda n: "prompt_encoder" in n, lambda m: m.disable_adapter(),
         "differs", _peft_save, _peft_load),
]
IDS_OF = [c.name for c in CASES]
MERGING = [c for c in CASES if c.merge is not None]


def perturb(model: nn.Module, case: Case, seed: int = 1) -> None:
    """Give every adapter weight a random nudge, as training would (LoRA's ``B = 0`` hides bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if case.is_adapter_param(name):
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_starts_as_the_base_model_where_the_method_guarantees_it(case):
    base = tiny()
    expected = call(base)
    model = case.prepare(base)
    if case.start == "exact":
        torch.testing.assert_close(call(model), expected, rtol=0, atol=0)
    elif case.start == "close":
        out = call(model)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-2)
        assert not torch.equal(out, expected), "a near-identity adapter is not exactly the identity"
    elif case.start == "reads_prompt_first":
        assert case.prompt is not None
        with torch.no_grad():
            case.prompt(model).copy_(base.get_input_embeddings().weight[READ_FIRST])
        batch = IDS.shape[0]
        reference = base(
            input_ids=torch.cat([READ_FIRST.expand(batch, -1), IDS], dim=1),
            attention_mask=torch.cat([torch.ones(batch, VIRTUAL, dtype=MASK.dtype), MASK], dim=1),
        ).logits
        out = call(model)
        assert out.shape == reference.shape
        torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    else:
        assert case.start == "differs"
        assert not torch.allclose(call(model), expected, atol=1e-3), "a prefix is attended to from the start"


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_disabling_restores_the_base_model_exactly(case):
    base_model = tiny()
    base = call(base_model)
    model = case.prepare(base_model)
    perturb(model, case)
    adapted = call(model)
    assert adapted.shape != base.shape or not torch.allclose(adapted, base, atol=1e-3)
    with case.disabled(model):
        torch.testing.assert_close(call(model), base, rtol=0, atol=0)
    torch.testing.assert_close(call(model), adapted, rtol=0, atol=0)


@pytest.mark.parametrize("case", MERGING, ids=[c.name for c in MERGING])
def test_merge_keeps_outputs_and_is_idempotent(case):
    model = case.prepare(tiny())
    perturb(model, case)
    expected = call(model)
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if not case.is_adapter_param(n)}
    assert case.merge is not None and case.unmerge is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft warns that a second merge has nothing to do
        case.merge(model)
        merged = {n: p.detach().clone() for n, p in model.named_parameters() if n in weights}
        assert any(not torch.equal(merged[n], weights[n]) for n in weights), "merging changes base weights"
        torch.testing.assert_close(call(model), expected, rtol=1e-5, atol=1e-5)
        case.merge(model)
        for n, p in model.named_parameters():
            if n in merged:
                assert torch.equal(p, merged[n]), f"a second merge changed {n}"
        torch.testing.assert_close(call(model), expected, rtol=1e-5, atol=1e-5)
        case.unmerge(model)
        case.unmerge(model)
    for n, p in model.named_parameters():
        if n in weights:
            torch.testing.assert_close(p, weights[n], rtol=0, atol=1e-6)
    torch.testing.assert_close(call(model), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_save_load_round_trips_to_identical_outputs(case, tmp_path):
    torch.manual_seed(0)
    model = case.prepare(tiny())
    perturb(model, case)
    expected = call(model)
    case.save(model, tmp_path)
    torch.manual_seed(1)  # a fresh model gets other random adapter weights, if any
    fresh = case.prepare(tiny())
    perturb(fresh, case, seed=2)
    assert not torch.allclose(call(fresh), expected)
    loaded = case.load(tmp_path)
    torch.testing.assert_close(call(loaded), expected, rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS_OF)
def test_only_adapter_weights_train(case):
    model = case.prepare(tiny())
    perturb(model, case)
    names = [n for n, _ in model.named_parameters()]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n in names if case.is_adapter_param(n)} and trainable
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    model(input_ids=IDS, attention_mask=MASK, labels=IDS).loss.backward()
    optimizer.step()
    for n, p in model.named_parameters():
        if n in trainable:
            assert not torch.equal(p, before[n]), f"adapter weight {n} did not move"
        else:
            assert torch.equal(p, before[n]) and p.grad is None, f"base weight {n} changed or got a gradient"
