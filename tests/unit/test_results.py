import json
import math

import numpy as np
import pytest

from genai_lab.results import Recorder, atomic_write_text, load_results


def test_record_saves_a_flat_file_at_once(tmp_path):
    rec = Recorder("00_setup", directory=tmp_path)
    assert rec.record("setup.cosine_similarity", np.float32(0.5)) == 0.5
    rec.record("setup.paris_answer", "The capital of France is Paris.")
    data = json.loads((tmp_path / "00_setup.json").read_text())
    assert data["setup.cosine_similarity"] == 0.5
    assert data["setup.paris_answer"].endswith("Paris.")
    assert {"machine", "mode", "date"} <= set(data)
    assert load_results(tmp_path)["00_setup"] == data


@pytest.mark.parametrize("key", ["Setup.X", "nodot", "setup..x", "setup.x y", ""])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(ValueError, match="dotted"):
        Recorder("nb", directory=tmp_path).record(key, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_numbers_are_refused(tmp_path, value):
    with pytest.raises(ValueError, match="finite"):
        Recorder("nb", directory=tmp_path).record("a.b", value)


def test_wrong_types_and_long_strings_are_refused(tmp_path):
    rec = Recorder("nb", directory=tmp_path)
    with pytest.raises(TypeError, match="number or a short string"):
        rec.record("a.b", [1, 2])
    with pytest.raises(ValueError, match="character string"):
        rec.record("a.b", "x" * 500)
    with pytest.raises(ValueError, match="file stem"):
        Recorder("../evil", directory=tmp_path)


def test_figures_land_beside_the_results(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = Recorder("nb", directory=tmp_path).save_figure(fig, "line")
    assert path == tmp_path / "figures" / "nb__line.png"
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_text(target, "{}")
    atomic_write_text(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_committed_results_are_full_mode_runs():
    """Every committed results file must come from a full-mode run (the committed notebooks)."""
    from genai_lab.paths import repo_root

    files = sorted((repo_root() / "results").glob("*.json"))
    assert files, "results/ holds no recorded figures"
    for path in files:
        data = json.loads(path.read_text())
        assert data.get("mode") == "full", f"{path.name} was recorded in {data.get('mode')!r} mode"


def test_display_path_is_relative_inside_the_repository(tmp_path):
    from genai_lab.paths import repo_root

    inside = Recorder("nb", directory=repo_root() / "results")
    assert inside.display_path == "results/nb.json"
    outside = Recorder("nb", directory=tmp_path)
    assert outside.display_path == str(tmp_path / "nb.json")
