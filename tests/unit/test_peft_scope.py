"""A run on the fallback set is a smoke test: it records nothing under the benchmark's keys and
judges no bar (genai_lab.peft.scope)."""

import json

import pytest

from genai_lab.peft.scope import (
    SMOKE_FLAG_KEY,
    SMOKE_NOTE_KEY,
    ComparisonRecorder,
    RunScope,
    comparison_recorder,
    gain_bar,
    lora_bar,
)

SMOKE = RunScope(on_benchmark=False)
FULL = RunScope(on_benchmark=True)
FAST = RunScope(on_benchmark=True, fast=True)

# every key notebook 12 records
NOTEBOOK_KEYS = [
    "peft.sst2_dev_accuracy.base_zero_shot",
    *[f"peft.{part}.{m}" for m in ("lora", "full", "prefix", "ptuning_v2")
      for part in ("sst2_dev_accuracy", "trainable_params", "step_seconds", "adapter_bytes", "peak_memory_mb",
                   "sst2_lr")],
    "peft.budget_steps",
]


def _recorded(tmp_path, scope):
    rec = ComparisonRecorder("12_peft_sst2_comparison", scope, directory=tmp_path)
    rec.record(NOTEBOOK_KEYS[0], 0.5)
    rec.update({k: 1 for k in NOTEBOOK_KEYS[1:]})
    return json.loads((tmp_path / "12_peft_sst2_comparison.json").read_text())


def test_a_smoke_run_records_nothing_under_the_benchmark_keys(tmp_path):
    saved = _recorded(tmp_path, SMOKE)
    peft_keys = [k for k in saved if k.startswith("peft.")]
    assert not [k for k in peft_keys if not k.startswith("peft.smoke.")], "a fallback run wrote benchmark keys"
    assert not [k for k in peft_keys if "sst2" in k]
    assert saved[SMOKE_FLAG_KEY] is True and "not comparable" in saved[SMOKE_NOTE_KEY]
    assert saved["peft.smoke.dev_accuracy.base_zero_shot"] == 0.5
    assert saved["peft.smoke.dev_accuracy.lora"] == 1 and saved["peft.smoke.budget_steps"] == 1
    assert len(peft_keys) == len(NOTEBOOK_KEYS) + 2  # no two keys collapse into one


def test_a_benchmark_run_records_the_keys_as_given(tmp_path):
    saved = _recorded(tmp_path, FULL)
    assert sorted(k for k in saved if k.startswith("peft.")) == sorted(NOTEBOOK_KEYS)
    assert SMOKE_FLAG_KEY not in saved


def test_smoke_figures_get_their_own_name(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    assert ComparisonRecorder("nb", SMOKE, directory=tmp_path).save_figure(fig, "acc").name == "nb__smoke_acc.png"
    assert ComparisonRecorder("nb", FULL, directory=tmp_path).save_figure(fig, "acc").name == "nb__acc.png"
    plt.close(fig)


def test_keys_outside_peft_are_refused():
    with pytest.raises(ValueError, match="not a 'peft.\\*' key"):
        SMOKE.key("rag.kb.recall")


def test_the_issue_case_is_not_judged_on_the_fallback_set():
    # the issue's run: LoRA 0.938 on 16 fallback sentences, trained in a minute
    verdict = lora_bar(SMOKE, accuracy=0.938, zero_shot=0.5, train_minutes=1.0)
    assert verdict.met is None
    assert "SMOKE TEST" in verdict.text and "not judged" in verdict.text and "met" not in verdict.text
    assert all(v.met is None and "SMOKE TEST" in v.text for v in gain_bar(SMOKE, {"lora": 0.938}, 0.5).values())


def test_fast_mode_judges_no_bar_either():
    verdict = lora_bar(FAST, accuracy=0.9, zero_shot=0.5, train_minutes=1.0)
    assert verdict.met is None and "fast mode" in verdict.text


@pytest.mark.parametrize(
    ("accuracy", "zero_shot", "minutes", "met"),
    [(0.865, 0.651, 2.9, True), (0.84, 0.5, 2.9, False), (0.86, 0.70, 2.9, False), (0.9, 0.5, 15.5, False)],
)
def test_the_lora_bar_on_sst2_in_full_mode(accuracy, zero_shot, minutes, met):
    verdict = lora_bar(FULL, accuracy, zero_shot, minutes)
    assert verdict.met is met
    assert verdict.text == f"bar (>= 0.85, >= +20 points, <= 15 min) met: {met}"


def test_the_gain_bar_per_method():
    verdicts = gain_bar(FULL, {"lora": 0.80, "prompt": 0.70}, zero_shot=0.651)
    assert verdicts["lora"].met is True and verdicts["prompt"].met is False
    assert "(+4.9)" in verdicts["prompt"].text


def test_detect_reads_the_benchmark_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENAI_LAB_BENCHMARKS", str(tmp_path / "absent"))
    monkeypatch.setenv("GENAI_LAB_RESULTS", str(tmp_path / "results"))
    assert RunScope.detect().smoke
    rec = comparison_recorder("nb")
    assert "SMOKE TEST" in capsys.readouterr().out and rec.scope.smoke
    (tmp_path / "bench" / "sst2").mkdir(parents=True)
    monkeypatch.setenv("GENAI_LAB_BENCHMARKS", str(tmp_path / "bench"))
    assert RunScope.detect().on_benchmark
    comparison_recorder("nb")
    assert capsys.readouterr().out == ""


def test_notebook_12_records_and_judges_through_the_scope():
    """The notebook must not build a plain Recorder nor compute the bar itself (the fallback run of
    the issue printed 'met: True' and wrote peft.sst2_* keys)."""
    from genai_lab.paths import repo_root

    nb = json.loads((repo_root() / "notebooks" / "12_peft_sst2_comparison.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "comparison_recorder(" in code and "Recorder(" not in code.replace("comparison_recorder(", "")
    assert "lora_bar(" in code and "met:" not in code and ">= 0.85" not in code
