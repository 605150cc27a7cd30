import json

from genai_lab import course
from genai_lab.results import Recorder


def test_summary_shows_results_and_embeds_figures(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("GENAI_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(course, "build_dir", lambda: tmp_path / "build")
    rec = Recorder("00_setup")
    rec.record("setup.cosine_similarity", 0.61)
    fig, ax = plt.subplots()
    ax.bar(["a"], [1])
    rec.save_figure(fig, "bars")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "runtimes.json").write_text(
        json.dumps({"00_setup": {"seconds": 12.5, "ok": True, "mode": "full", "machine": "m"}})
    )
    html_path = course.write_summary()
    page = html_path.read_text()
    assert "setup.cosine_similarity" in page and "0.61" in page
    assert "data:image/png;base64," in page
    assert "12.5" in page
    assert "setup.cosine_similarity" in (tmp_path / "build" / "summary.md").read_text()


def test_notebooks_are_found_in_teaching_order():
    names = [p.name for p in course.course_notebooks()]
    assert names == sorted(names)
    assert names[0] == "00_setup.ipynb"
