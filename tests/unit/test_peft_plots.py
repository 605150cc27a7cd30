"""The Part 1 figures (genai_lab.peft.plots) draw the numbers they are given, on log axes (Agg backend)."""

import matplotlib
import pytest
from matplotlib.patches import Rectangle

from genai_lab.peft.plots import plot_memory_vs_tasks, plot_trainable_parameters

TRAINED = {"prefix": 1_512_320, "prompt": 9_216, "ia3": 57_600, "ptuning": 173_888}
BASE = 134_515_008


@pytest.fixture(autouse=True)
def _agg_backend():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_trainable_bars_are_sorted_counts_on_a_log_axis_with_shares():
    fig = plot_trainable_parameters(TRAINED, BASE)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prompt", "ia3", "ptuning", "prefix"]
    assert [b.get_width() for b in _bars(ax)] == [9_216, 57_600, 173_888, 1_512_320]
    texts = [t.get_text() for t in ax.texts]
    assert "57,600 (0.0428%)" in texts and "9,216 (0.00685%)" in texts
    # full fine-tuning is the dashed reference line, inside the visible range
    assert [line.get_xdata()[0] for line in ax.lines] == [BASE]
    assert ax.get_xlim()[0] <= 9_216 / 3 + 1 and ax.get_xlim()[1] >= BASE


def test_stored_bars_appear_only_where_fewer_numbers_are_kept():
    stored = {"ptuning": 9_216, "prefix": 92_160, "ia3": 57_600}  # ia3 keeps what it trains: no extra bar
    ax = plot_trainable_parameters(TRAINED, BASE, stored=stored).axes[0]
    bars = _bars(ax)
    assert len(bars) == len(TRAINED) + 2
    hatched = {round(b.get_y() + b.get_height() / 2): b.get_width() for b in bars if b.get_hatch()}
    assert hatched == {2: 9_216, 3: 92_160}  # rows of ptuning and prefix, smallest-trained first
    assert "stored after training" in [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize(
    ("trained", "base", "stored", "message"),
    [
        ({}, BASE, None, "trained is empty"),
        ({"a": 0}, BASE, None, "positive"),
        (TRAINED, 0, None, "base_params"),
        (TRAINED, BASE, {"lora": 5}, "same labels"),
    ],
)
def test_trainable_plot_rejects_bad_input(trained, base, stored, message):
    with pytest.raises(ValueError, match=message):
        plot_trainable_parameters(trained, base, stored=stored)


def test_memory_lines_follow_copies_and_shared_base():
    base, adapter = 538.1e6, 1.85e6
    fig = plot_memory_vs_tasks(base, adapter, max_tasks=100)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    copies, shared = (line for line in ax.lines if len(line.get_xdata()) == 100)
    assert list(copies.get_xdata()[[0, 9, 99]]) == [1, 10, 100]
    assert copies.get_ydata()[99] == pytest.approx(100 * base / 1e9)
    assert shared.get_ydata()[9] == pytest.approx((base + 10 * adapter) / 1e9)
    assert copies.get_ydata()[0] == pytest.approx(shared.get_ydata()[0] - adapter / 1e9)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{10 * base / (base + 10 * adapter):.1f}x", f"{100 * base / (base + 100 * adapter):.1f}x"]
    assert texts[-1] == "74.4x"
    assert any("291x" in t.get_text() for t in ax.get_legend().get_texts())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_bytes": 0, "adapter_bytes": 1}, "base_bytes"),
        ({"base_bytes": 1, "adapter_bytes": -1}, "adapter_bytes"),
        ({"base_bytes": 1, "adapter_bytes": 1, "max_tasks": 1}, "at least 2"),
        ({"base_bytes": 1, "adapter_bytes": 1, "max_tasks": 50, "marks": (100,)}, "outside 1..50"),
    ],
)
def test_memory_plot_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_memory_vs_tasks(**kwargs)
