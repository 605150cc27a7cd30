"""The shared training loop and evaluation, on a tiny classifier."""

import pytest
import torch

from genai_lab.peft.data import Example, Tokenized
from genai_lab.peft.lora import inject_lora
from genai_lab.peft.train import TrainConfig, evaluate, train


class Tok:
    """Maps each word to a token id: enough for a tiny model."""

    pad_token_id = 0

    def __call__(self, texts, truncation=True, max_length=128):
        return {"input_ids": [[3 + sum(map(ord, w)) % 60 for w in t.split()] for t in texts]}


def tiny_classifier(seed=0, layers=1):
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64, hidden_size=24, num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=32, num_labels=2, pad_token_id=0,
    )
    return LlamaForSequenceClassification(config).eval()


def data():
    examples = [Example("good great fine", 1), Example("bad awful", 0)] * 8
    return Tokenized(examples, Tok())


def test_training_lowers_loss_and_reaches_full_accuracy():
    model = tiny_classifier()
    inject_lora(model, ["q_proj", "v_proj"], r=2, alpha=4, trainable=("score",))
    d = data()
    result = train(model, d, TrainConfig(steps=30, batch_size=4, lr=1e-2, warmup_steps=2, log_every=10))
    assert len(result.step_seconds) == 30 and result.mean_step_seconds > 0
    assert [s for s, _ in result.log] == [10, 20, 30]
    assert result.losses[-1] < result.losses[0]
    assert evaluate(model, d, batch_size=4) == 1.0


def test_learning_curve_scores_eval_data_without_changing_the_run():
    runs = []
    for eval_every in (0, 2):
        model = tiny_classifier()
        inject_lora(model, ["q_proj", "v_proj"], r=2, alpha=4, trainable=("score",))
        config = TrainConfig(steps=5, batch_size=4, lr=1e-2, warmup_steps=1, eval_every=eval_every)
        runs.append(train(model, data(), config, eval_data=data()))
    assert runs[0].curve == []
    assert [s for s, _ in runs[1].curve] == [0, 2, 4, 5]
    assert all(0.0 <= acc <= 1.0 for _, acc in runs[1].curve)
    assert runs[0].losses == runs[1].losses, "scoring the curve must not change the training run"
    assert len(runs[1].step_seconds) == 5


def test_a_curve_without_eval_data_is_a_clear_error():
    model = tiny_classifier()
    inject_lora(model, ["q_proj"], r=2, trainable=("score",))
    with pytest.raises(ValueError, match="no eval_data was given"):
        train(model, data(), TrainConfig(steps=2, batch_size=4, eval_every=1))
    with pytest.raises(ValueError, match="eval_every must be 0"):
        train(model, data(), TrainConfig(steps=2, batch_size=4, eval_every=-1))


def test_same_seed_same_run():
    runs = []
    for _ in range(2):
        model = tiny_classifier()
        inject_lora(model, ["q_proj"], r=2, trainable=("score",))
        runs.append(train(model, data(), TrainConfig(steps=3, batch_size=4, seed=5)).losses)
    assert runs[0] == runs[1]


def test_head_gets_its_own_learning_rate():
    from genai_lab.peft.train import _param_groups

    model = tiny_classifier()
    inject_lora(model, ["q_proj"], r=2, trainable=("score",))
    groups = _param_groups(model, TrainConfig(lr=1e-3, head_lr=5e-4))
    assert [g["lr"] for g in groups] == [1e-3, 5e-4]
    assert sum(p.numel() for p in groups[1]["params"]) == 24 * 2


def test_nothing_trainable_is_a_clear_error():
    model = tiny_classifier()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        train(model, data(), TrainConfig(steps=1, batch_size=2))


def test_unknown_method_lists_the_methods():
    from genai_lab.peft.methods import prepare

    with pytest.raises(ValueError, match=r"Unknown method 'qlora'; choose from \['adapter', 'full'"):
        prepare("qlora", None, None)


def test_step_breakdown_updates_only_trainable_weights_and_times_each_phase():
    from genai_lab.peft.train import step_breakdown

    model = tiny_classifier()
    inject_lora(model, ["q_proj", "v_proj"], r=2, alpha=4, trainable=("score",))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    head = model.score.weight.detach().clone()
    batch = data().batch(list(range(4)))
    result = step_breakdown(model, batch, steps=2, lr=1e-2)
    assert result.forward > 0 and result.backward > 0 and result.optimizer > 0
    assert result.total == pytest.approx(result.forward + result.backward + result.optimizer)
    assert result.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert not torch.equal(model.score.weight, head), "the optimizer never stepped"
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert not model.training  # left in eval mode, like train()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        step_breakdown(model, batch)
