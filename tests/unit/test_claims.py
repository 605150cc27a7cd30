"""The numbers the notebooks' prose quotes match the figures they recorded (genai_lab.claims)."""

import json

import pytest

from genai_lab.claims import ClaimError, check_notebooks, course_notebooks, find_markers, main

# The course's prose carries at least this many checked numbers; removing markers must be deliberate.
MIN_COURSE_CLAIMS = 15


def _notebook(path, *markdown, cell_id="abc123"):
    cells = [{"cell_type": "code", "id": "c0", "metadata": {}, "source": "x = 1 <!-- from: not.checked -->",
              "outputs": [], "execution_count": 1}]
    cells += [{"cell_type": "markdown", "id": f"{cell_id}{i}", "metadata": {}, "source": text.splitlines(True)}
              for i, text in enumerate(markdown)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def _results(folder, **files):
    """Write exactly these results files into ``folder`` (earlier ones are removed)."""
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for stem, values in files.items():
        payload = {**values, "machine": "test", "mode": "full"}
        (folder / f"{stem}.json").write_text(json.dumps(payload), encoding="utf-8")
    return folder


def _check(tmp_path, text, values, **more_files):
    nb = _notebook(tmp_path / "99_synthetic.ipynb", text)
    return check_notebooks([nb], _results(tmp_path / "results", **{"99_synthetic": values}, **more_files))


# --- the course itself ---------------------------------------------------------------------------


def test_every_marked_number_in_the_course_matches_its_results():
    report = check_notebooks()
    drifted = "\n".join(c.describe() for c in report.failures)
    assert not report.failures, f"prose and results disagree; re-word the prose or re-run the notebook:\n{drifted}"
    assert report.checked == len(report.claims)
    assert report.checked >= MIN_COURSE_CLAIMS, "the headline claims lost their <!-- from: ... --> markers"


def test_the_recorded_count_is_the_current_count():
    """``course.claims_checked``, once recorded, follows the markers: re-record it when they change."""
    from genai_lab.paths import repo_root

    recorded = repo_root() / "results" / "course.json"
    if recorded.exists():
        value = json.loads(recorded.read_text(encoding="utf-8")).get("course.claims_checked")
        assert value in (None, check_notebooks().checked), "run `python -m genai_lab.claims --record`"


def test_markers_are_spread_over_the_course():
    report = check_notebooks()
    notebooks = {c.marker.where.split(" cell ")[0] for c in report.claims}
    assert len(notebooks) >= 8, sorted(notebooks)
    assert all(p.suffix == ".ipynb" for p in course_notebooks())


# --- drift ---------------------------------------------------------------------------------------


def test_a_number_that_matches_passes_and_a_drifted_one_fails(tmp_path):
    text = "LoRA reaches **0.865**<!-- from: peft.acc.lora --> on dev."
    assert not _check(tmp_path, text, {"peft.acc.lora": 0.8646788990825688}).failures
    report = _check(tmp_path, text, {"peft.acc.lora": 0.851})
    assert len(report.failures) == 1 and report.checked == 0
    message = report.failures[0].describe()
    assert "99_synthetic.ipynb cell 1 (id abc1230), line 1" in message and "0.865" in message and "0.851" in message


@pytest.mark.parametrize(
    ("text", "value", "ok"),
    [
        ("recall 0.934<!-- from: a.b -->", 0.9335, True),  # exactly half a unit: rounds either way
        ("recall 0.934<!-- from: a.b -->", 0.9346, False),
        ("recall 0.93<!-- from: a.b -->", 0.934, True),  # fewer digits written, looser check
        ("**9,272x**<!-- from: a.b --> smaller", 9272.4, True),
        ("**9,272x**<!-- from: a.b --> smaller", 9000, False),
        ("wastes 1.5%<!-- from: a.b *100 --> of it", 0.01525, True),
        ("wastes 1.5%<!-- from: a.b *100 --> of it", 0.031, False),
        ("wastes 1.5%<!-- from: a.b --> of it", 0.01525, False),  # a fraction written as a percentage needs *100
        ("538 MB<!-- from: a.b *1e-6 -->", 538095064, True),
        ("about 150 tok/s<!-- from: a.b ~15% -->", 171.2, True),
        ("about 150 tok/s<!-- from: a.b ~10% -->", 171.2, False),
        ("within 0.02<!-- from: a.b ~0.01 -->", 0.029, True),
        ("within 0.02<!-- from: a.b ~0.01 -->", 0.031, False),
        ("a drop of -0.5 points<!-- from: a.b -->", -0.5, True),
        ("a drop of −0.5 points<!-- from: a.b -->", 0.5, False),  # the Unicode minus is a sign
        ("between 0.35-0.82x<!-- from: a.b -->", 0.82, True),  # a range's dash is not a minus sign
        ("GPT-3 needs 1.4 TB<!-- from: a.b -->", 1.4, True),
        ("integer 69<!-- from: a.b -->", 69, True),
        ("integer 69<!-- from: a.b -->", 70, False),
    ],
)
def test_the_written_number_against_the_recorded_value(tmp_path, text, value, ok):
    report = _check(tmp_path, text, {"a.b": value})
    assert len(report.claims) == 1
    assert report.claims[0].ok is ok, report.claims[0].describe()


def test_a_key_recorded_by_two_files_must_name_its_file(tmp_path):
    values = {"a.b": 1.0}
    with pytest.raises(ClaimError, match=r"different values in 99_synthetic, other.*<!-- from: 99_synthetic:a.b -->"):
        _check(tmp_path, "x 1.0<!-- from: a.b -->", values, other={"a.b": 2.0})
    report = _check(tmp_path, "x 2.0<!-- from: other:a.b -->", values, other={"a.b": 2.0})
    assert report.checked == 1 and report.claims[0].source == "other"
    assert _check(tmp_path, "x 1.0<!-- from: a.b -->", values, same={"a.b": 1.0}).checked == 1


def test_several_markers_on_a_line_and_across_cells(tmp_path):
    nb = _notebook(
        tmp_path / "98_x.ipynb", "a 0.5<!-- from: a.b --> and b 12<!-- from: a.c -->", "c 3.0<!-- from: a.d -->"
    )
    report = check_notebooks([nb], _results(tmp_path / "r", x={"a.b": 0.5, "a.c": 12, "a.d": 3}))
    assert [c.marker.key for c in report.claims] == ["a.b", "a.c", "a.d"]
    assert "98_x.ipynb cell 2 (id abc1231), line 1" in report.claims[2].marker.where


# --- malformed markers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5<!-- from: -->", "malformed marker"),
        ("0.5<!-- from a.b -->", "malformed marker"),
        ("0.5<!--from: a.b-->", "malformed marker"),
        ("0.5<!-- from: A.B -->", "malformed marker"),
        ("0.5<!-- from: nodots -->", "malformed marker"),
        ("0.5<!-- from: a.b", "malformed marker"),
        ("0.5<!-- FROM: a.b -->", "malformed marker"),
        ("0.5<!-- from: a.b ±3 -->", "unknown marker option '±3'"),
        ("0.5<!-- from: a.b ~1% ~2% -->", "tolerance is given twice"),
        ("0.5<!-- from: a.b *100 *10 -->", "scale is given twice"),
        ("0.5<!-- from: a.b *0 -->", "scale of 0"),
        ("no number here<!-- from: a.b -->", "follows no number"),
        ("0.5 is far, far away from<!-- from: a.b -->", "must follow its number closely"),
        ("0.5<!-- from: a.bee -->", r"records no key 'a.bee'. Did you mean a.b\?"),
        ("0.5<!-- from: nofile:a.b -->", "no results file nofile.json"),
        ("0.5<!-- from: a.text -->", "is 'words', not a number"),
        ("1<!-- from: a.flag -->", "is True, not a number"),
    ],
)
def test_a_malformed_marker_names_the_notebook_cell_and_line(tmp_path, text, message):
    nb = _notebook(tmp_path / "97_bad.ipynb", "A first line.\n" + text)
    with pytest.raises(ClaimError, match=message) as err:
        check_notebooks([nb], _results(tmp_path / "r", x={"a.b": 0.5, "a.text": "words", "a.flag": True}))
    assert "97_bad.ipynb cell 1 (id abc1230), line 2" in str(err.value)


def test_no_results_files_is_an_error_that_names_the_folder(tmp_path):
    nb = _notebook(tmp_path / "96_x.ipynb", "0.5<!-- from: a.b -->")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClaimError, match="No results files"):
        check_notebooks([nb], tmp_path / "empty")


def test_find_markers_parses_a_marker_precisely():
    (marker,) = find_markers("the waste: **76.4%**<!-- from: paged.kv_waste.max_reserve *100 ~0.5 -->", "here")
    assert (marker.written, marker.number, marker.decimals) == ("76.4", 76.4, 1)
    assert (marker.key, marker.file, marker.scale, marker.tolerance, marker.relative) == (
        "paged.kv_waste.max_reserve", None, 100.0, 0.5, False)
    assert find_markers("plain prose with 3 numbers, 4 and 5 <!-- a comment -->", "here") == []


# --- the command line ----------------------------------------------------------------------------


def test_main_exits_1_on_drift_and_2_on_a_malformed_marker(tmp_path, capsys):
    nb = _notebook(tmp_path / "95_x.ipynb", "0.5<!-- from: a.b -->")
    results = _results(tmp_path / "r", x={"a.b": 0.5})
    assert main([str(nb), "--results", str(results)]) == 0
    assert "1 of 1 markers verified" in capsys.readouterr().out
    _results(results, x={"a.b": 0.7})
    assert main([str(nb), "--results", str(results)]) == 1
    assert "DRIFT" in capsys.readouterr().out
    _notebook(nb, "0.5<!-- from a.b -->")
    assert main([str(nb), "--results", str(results)]) == 2
    assert "malformed marker" in capsys.readouterr().err


def test_main_records_the_count_of_verified_markers(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_RESULTS", str(tmp_path / "recorded"))
    nb = _notebook(tmp_path / "94_x.ipynb", "0.5<!-- from: a.b --> and 2<!-- from: a.c -->")
    results = _results(tmp_path / "r", x={"a.b": 0.5, "a.c": 2})
    assert main([str(nb), "--results", str(results), "--record"]) == 0
    recorded = json.loads((tmp_path / "recorded" / "course.json").read_text())
    assert recorded["course.claims_checked"] == 2
