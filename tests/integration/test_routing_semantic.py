"""The router with its semantic layer on the real MiniLM: calibration on the development set, the
bars with every layer on, and the time per request once the model is loaded."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from genai_lab.routing import RouterPolicy
from genai_lab.routing.semantic import DEFAULT_THRESHOLD, calibrate, load_labelled
from genai_lab.routing.variants import evaluate, false_alarms, generate_variants

KB = Path(__file__).parents[2] / "data" / "kb" / "manifest.json"
pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def policy() -> RouterPolicy:
    policy = RouterPolicy.from_knowledge_base(KB)
    assert policy.semantic is not None and policy.semantic._vectors is None, "the model must load lazily"
    return policy


def test_calibration_reproduces_the_shipped_threshold(policy: RouterPolicy) -> None:
    assert policy.semantic is not None
    result = calibrate(policy.semantic, load_labelled(), max_false_alarm_rate=0.05)
    assert result.auc >= 0.9
    assert abs(result.threshold - DEFAULT_THRESHOLD) < 0.02, "recalibrate and update DEFAULT_THRESHOLD"
    assert result.fpr[0] == 0.0 and result.tpr[-1] == 1.0  # a whole ROC curve


def test_paraphrases_of_internal_documents_stay_internal(policy: RouterPolicy) -> None:
    sensitive = [text for text, label in load_labelled() if label == 1]
    caught = [t for t in sensitive if policy.classify(t + " Search the web too.").confidential]
    assert len(caught) >= 0.9 * len(sensitive)
    decision = policy.classify("How many days of annual leave do we get? Search the web too.")
    assert "semantic" in decision.layers and "nearest knowledge-base chunk" in decision.explain()


def test_bars_hold_with_every_layer_on(policy: RouterPolicy) -> None:
    _, rate = false_alarms(policy)
    assert rate <= 0.05
    assert evaluate(policy, generate_variants(policy, "heldout", 500)).leak_count == 0


def test_time_per_request_once_loaded(policy: RouterPolicy) -> None:
    policy.classify("warm up: the model loads here")
    times = []
    for question in ["What is a KV cache?", "How does the hub pair with Zigbee sensors?", "Recommend a novel."] * 5:
        start = time.perf_counter()
        policy.classify(question)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.05
