"""The fair comparison (genai_lab.peft.fair): a tuning split carved from train, a learning rate
chosen on it, an equal step budget with learning curves, and the time a plan costs. Tiny model."""

from collections import Counter

import pytest
import torch

from genai_lab.peft.data import Example, Tokenized
from genai_lab.peft.fair import (
    LR_GRIDS,
    LrSearch,
    Plan,
    carve_tuning_split,
    choose_lr,
    estimate_seconds,
    fair_run,
)
from genai_lab.peft.lora import inject_lora
from genai_lab.peft.methods import METHODS
from genai_lab.peft.train import TrainConfig
from tests.unit.test_peft_train import Tok, tiny_classifier


class TextTok(Tok):
    """Also tokenises one string, as a Hugging Face tokenizer does."""

    def __call__(self, texts, add_special_tokens=True, **kwargs):
        if isinstance(texts, str):
            return {"input_ids": super().__call__([texts])["input_ids"][0]}
        return super().__call__(texts, **kwargs)


EXAMPLES = [Example(f"s{i}", int(i % 3 == 0)) for i in range(60)]  # 20 positive, 40 negative


def test_tuning_split_is_deterministic_disjoint_and_stratified():
    rest, tune = carve_tuning_split(EXAMPLES, 15, seed=0)
    assert (rest, tune) == carve_tuning_split(EXAMPLES, 15, seed=0)
    assert carve_tuning_split(EXAMPLES, 15, seed=1)[1] != tune
    assert len(tune) == 15 and len(rest) == 45
    assert Counter(e.text for e in rest + tune) == Counter(e.text for e in EXAMPLES)
    assert not {e.text for e in rest} & {e.text for e in tune}
    assert Counter(e.label for e in tune) == {0: 10, 1: 5}  # the 2:1 proportions of the examples
    assert [e.text for e in rest] == [e.text for e in EXAMPLES if e not in tune]  # order kept


def test_tuning_split_rounding_goes_to_the_largest_class():
    assert Counter(e.label for e in carve_tuning_split(EXAMPLES, 16)[1]) == {0: 11, 1: 5}


@pytest.mark.parametrize("n_tune", [0, 60, -1])
def test_tuning_split_of_a_bad_size_is_refused(n_tune):
    with pytest.raises(ValueError, match="n_tune must be between 1 and 59"):
        carve_tuning_split(EXAMPLES, n_tune)


def test_best_lr_breaks_ties_by_loss_then_rate():
    search = LrSearch("lora", scores={1e-3: 0.8, 1e-2: 0.8, 1e-4: 0.7}, losses={1e-3: 0.4, 1e-2: 0.3, 1e-4: 0.1})
    assert search.best_lr == 1e-2
    search.losses[1e-3] = 0.3
    assert search.best_lr == 1e-3
    with pytest.raises(ValueError, match="No learning rate"):
        _ = LrSearch("x").best_lr


def _toy():
    train = Tokenized([Example("good great fine", 1), Example("bad awful", 0)] * 8, Tok())
    tune = Tokenized([Example("great good", 1), Example("awful bad", 0)] * 2, Tok())
    return train, tune


def _build(calls):
    def build(method):
        calls.append(method)
        model = tiny_classifier()
        inject_lora(model, ["q_proj", "v_proj"], r=2, alpha=4, trainable=("score",))
        return model

    return build


def test_choose_lr_keeps_the_rate_that_learns():
    train, tune = _toy()
    calls = []
    config = TrainConfig(steps=10, batch_size=4, warmup_steps=1)
    search = choose_lr("lora", _build(calls), train, tune, grid=(1e-7, 5e-2), config=config)
    assert calls == ["lora", "lora"]
    assert search.scores[5e-2] == 1.0 and search.scores[1e-7] < 1.0
    assert search.best_lr == 5e-2 and search.best_model is None
    with pytest.raises(ValueError, match="grid of 'lora' is empty"):
        choose_lr("lora", _build(calls), train, tune, grid=(), config=config)


def test_fair_run_gives_every_method_the_same_budget_and_a_curve():
    train, tune = _toy()
    plan = Plan(budget_steps=5, search_steps=2, eval_every=2, n_tune=4, grids={"a": (1e-7, 5e-2), "b": (5e-2,)})
    runs = {}
    for method in ("a", "b"):
        calls = []
        runs[method] = fair_run(method, _build(calls), train, tune, plan, TrainConfig(batch_size=4, warmup_steps=2))
        assert len(calls) == len(plan.grid(method)) + 1  # the search, then the budget run
    for run in runs.values():
        assert len(run.result.step_seconds) == 5
        assert [s for s, _ in run.result.curve] == [0, 2, 4, 5]
        assert run.lr in plan.grid(run.method)
    assert runs["a"].lr == 5e-2


def test_a_search_at_the_full_budget_is_kept_not_trained_again():
    train, tune = _toy()
    plan = Plan(budget_steps=3, search_steps=3, eval_every=2, grids={"a": (1e-7, 5e-2)})
    calls = []
    run = fair_run("a", _build(calls), train, tune, plan, TrainConfig(batch_size=4, warmup_steps=1))
    assert len(calls) == 2 and run.model is run.search.best_model
    assert [s for s, _ in run.result.curve] == [0, 2, 3]


def test_every_method_has_a_grid_and_prompt_tuning_searches_large_rates():
    assert set(LR_GRIDS) == set(METHODS)
    assert min(LR_GRIDS["prompt"]) == 1e-2 and max(LR_GRIDS["prompt"]) == 3e-1
    assert all(len(g) <= 2 for g in Plan.fast().grids.values())
    with pytest.raises(ValueError, match="No learning-rate grid for 'qlora'"):
        Plan().grid("qlora")


def test_estimate_prices_each_part_of_a_plan():
    plan = Plan(budget_steps=100, search_steps=20, eval_every=50, n_tune=100, grids={"a": (1, 2), "b": (1, 2, 3)})
    parts = estimate_seconds(plan, {"a": 1.0, "b": 2.0}, n_dev=200, eval_seconds_per_sentence=0.01,
                             load_seconds=5.0, fixed_seconds=7.0)
    assert parts["search"] == pytest.approx(2 * 20 * 1.0 + 3 * 20 * 2.0)
    assert parts["budget"] == pytest.approx(100 * 1.0 + 100 * 2.0)
    assert parts["tune_eval"] == pytest.approx((3 + 3 + 2 + 3) * 100 * 0.01)  # curve 0, 50, 100 + search scores
    assert parts["dev_eval"] == pytest.approx(2 * 200 * 0.01)
    assert parts["loads"] == pytest.approx((3 + 4) * 5.0)
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))
    with pytest.raises(ValueError, match="step_seconds is empty"):
        estimate_seconds(plan, {}, n_dev=1)


def test_plan_rejects_bad_budgets():
    with pytest.raises(ValueError, match="at least 1"):
        Plan(budget_steps=0)
    with pytest.raises(ValueError, match="eval_every"):
        Plan(eval_every=-1)
    assert Plan(budget_steps=7, eval_every=3).curve_points() == 4 and Plan(eval_every=0).curve_points() == 0


def test_deep_prompts_are_read_in_every_layer_and_learn():
    """P-tuning v2 through peft's PrefixTuningConfig (no projection): keys and values in each layer."""
    from peft import PrefixTuningConfig, get_peft_model

    from genai_lab.peft.methods import peft_config

    config = peft_config("ptuning_v2")
    assert isinstance(config, PrefixTuningConfig) and config.prefix_projection is False
    model = get_peft_model(tiny_classifier(layers=2), config)
    encoder = model.prompt_encoder["default"]
    token_dim = 12  # one key/value head of 12
    assert encoder.embedding.weight.shape == (16, 2 * 2 * token_dim)
    batch = Tokenized([Example("good great fine", 1), Example("bad awful", 0)], Tok()).batch([0, 1])
    labels = batch.pop("labels")
    model.eval()
    with torch.no_grad():
        before = model(**batch).logits.clone()
        encoder.embedding.weight[:, 2 * token_dim :] += 1.0  # the last layer's keys and values only
        assert not torch.allclose(model(**batch).logits, before)
    train, _ = _toy()
    from genai_lab.peft.train import train as run

    model = get_peft_model(tiny_classifier(layers=2), peft_config("ptuning_v2"))
    result = run(model, train, TrainConfig(steps=8, batch_size=4, lr=5e-2, warmup_steps=1, log_every=4))
    assert result.log[-1][1] < result.log[0][1]
    assert labels.tolist() == [1, 0]


def test_prompt_tuning_starts_from_text():
    from peft import PromptTuningConfig, PromptTuningInit

    from genai_lab.peft.methods import PROMPT_INIT_TEXT, peft_config

    config = peft_config("prompt", tokenizer_path="/some/tokenizer")
    assert isinstance(config, PromptTuningConfig) and config.prompt_tuning_init == PromptTuningInit.TEXT
    assert config.prompt_tuning_init_text == PROMPT_INIT_TEXT and config.tokenizer_name_or_path == "/some/tokenizer"
    with pytest.raises(ValueError, match="'adapter' is not a peft method"):
        peft_config("adapter")


def test_deep_prompts_from_text_make_the_model_read_the_text_first():
    """Initialised from a text's keys and values, the prefixed model scores an input exactly as the
    frozen model scores the text followed by the input."""
    from peft import get_peft_model

    from genai_lab.peft.methods import peft_config
    from genai_lab.peft.prompts import init_deep_prompts_from_text

    base = tiny_classifier(layers=2)
    model = get_peft_model(tiny_classifier(layers=2), peft_config("ptuning_v2"))
    ids = init_deep_prompts_from_text(model, TextTok(), "good bad fine")
    assert len(ids) == 16 and ids[:3] == ids[3:6]  # the text repeated to the 16 virtual tokens
    x = torch.tensor([Tok()(["awful great"])["input_ids"][0]])
    model.eval()
    with torch.no_grad():
        prefixed = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
        read_first = base(input_ids=torch.cat([torch.tensor([ids]), x], dim=1)).logits
    torch.testing.assert_close(prefixed, read_first, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="prefix_projection=False"):
        init_deep_prompts_from_text(get_peft_model(tiny_classifier(), peft_config("prefix")), TextTok(), "good")


def test_the_plan_for_a_run_is_the_full_plan_only_on_sst2_in_full_mode():
    full = Plan.for_run(fast=False, smoke=False)
    assert (full.budget_steps, full.search_steps, full.eval_every, full.n_tune) == (200, 30, 40, 200)
    # the 48-sentence fallback set cannot spare 200 sentences for a tuning split: the smoke plan
    for fast, smoke in [(True, False), (False, True), (True, True)]:
        plan = Plan.for_run(fast=fast, smoke=smoke)
        assert plan == Plan.fast() and plan.n_tune < 48 // 2
