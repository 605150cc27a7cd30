"""Notebook 12's figures (genai_lab.peft.comparison_plots): no legend hides a point (Agg backend)."""

import matplotlib
import pytest

from genai_lab.peft.comparison_plots import plot_accuracy_vs_params, plot_learning_curves

# the committed run: prefix tuning sat at chance with 1.5 M parameters, under the old legend
ROWS = {
    "lora": {"trainable": 461_952, "accuracy": 0.865, "steps": 250},
    "full": {"trainable": 134_516_160, "accuracy": 0.850, "steps": 100},
    "adapter": {"trainable": 1_142_592, "accuracy": 0.853, "steps": 100},
    "ia3": {"trainable": 58_752, "accuracy": 0.736, "steps": 100},
    "prefix": {"trainable": 1_515_008, "accuracy": 0.499, "steps": 100},
    "prompt": {"trainable": 10_368, "accuracy": 0.511, "steps": 100},
    "ptuning": {"trainable": 175_040, "accuracy": 0.669, "steps": 100},
}


@pytest.fixture(autouse=True)
def _agg_backend():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _hidden(fig):
    """Data points and point labels that the legend's box covers (display coordinates)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent(renderer)
    hidden = []
    for coll in ax.collections:
        for x, y in ax.transData.transform(coll.get_offsets()):
            if box.contains(x, y):
                hidden.append((x, y))
    hidden += [t.get_text() for t in ax.texts if box.overlaps(t.get_window_extent(renderer))]
    return hidden


def test_no_point_or_label_is_under_the_legend():
    fig = plot_accuracy_vs_params(ROWS, zero_shot=0.651)
    assert _hidden(fig) == []
    assert len(fig.axes[0].collections) == len(ROWS)


def test_the_overlap_check_catches_the_old_legend():
    fig = plot_accuracy_vs_params(ROWS, zero_shot=0.651)
    fig.axes[0].legend(loc="lower right", fontsize=8)  # where the first version put it
    assert "prefix (100 steps)" in _hidden(fig)


def test_labels_name_steps_only_when_budgets_differ():
    ax = plot_accuracy_vs_params(ROWS, zero_shot=0.651).axes[0]
    assert "lora (250 steps)" in [t.get_text() for t in ax.texts]
    equal = {m: {**r, "steps": 200} for m, r in ROWS.items()}
    ax = plot_accuracy_vs_params(equal, zero_shot=0.651).axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(ROWS)
    assert "200 steps each" in ax.get_title()


def test_a_smoke_plot_says_so_and_draws_no_published_reference():
    ax = plot_accuracy_vs_params(ROWS, zero_shot=0.5, smoke=True).axes[0]
    assert "SMOKE TEST" in ax.get_title() and "SST-2" not in ax.get_ylabel()
    assert [line.get_ydata()[0] for line in ax.lines] == [0.5]
    ax = plot_accuracy_vs_params(ROWS, zero_shot=0.5).axes[0]
    assert [line.get_ydata()[0] for line in ax.lines] == [0.5, 0.951]


@pytest.mark.parametrize(
    ("rows", "message"),
    [({}, "rows is empty"), ({"a": {"accuracy": 0.5}}, "needs 'trainable'"),
     ({"a": {"trainable": 0, "accuracy": 0.5}}, "positive")],
)
def test_accuracy_plot_rejects_bad_input(rows, message):
    with pytest.raises(ValueError, match=message):
        plot_accuracy_vs_params(rows, zero_shot=0.5)


def test_learning_curves_one_line_per_method_legend_outside():
    curves = {"lora": [(0, 0.5), (40, 0.7), (80, 0.86)], "prompt": [(0, 0.5), (40, 0.51), (80, 0.52)]}
    fig = plot_learning_curves(curves, zero_shot=0.651)
    ax = fig.axes[0]
    assert [list(line.get_xdata()) for line in ax.lines[:2]] == [[0, 40, 80], [0, 40, 80]]
    assert list(ax.lines[1].get_ydata()) == [0.5, 0.51, 0.52]
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    for line in ax.lines[:2]:
        for x, y in ax.transData.transform(line.get_xydata()):
            assert not box.contains(x, y)
    with pytest.raises(ValueError, match="curves is empty"):
        plot_learning_curves({"lora": []})
