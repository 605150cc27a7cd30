"""The lab tooling: markers, staleness of labs/, and check cells that fail helpfully when unsolved."""

from __future__ import annotations

import nbformat
import pytest

from genai_lab.labs import Location as Loc
from genai_lab.labs import (
    MarkerError,
    generate_labs,
    is_check_cell,
    lab_text,
    make_lab,
    strip_solution,
)
from genai_lab.paths import repo_root

ROOT = repo_root()
WHERE = Loc("x.ipynb", 3)


def test_block_becomes_an_indented_stub_naming_the_function():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(1)"
    out = strip_solution(source, WHERE)
    assert "return x + 1" not in out
    assert "    # YOUR CODE HERE" in out
    assert '    raise NotImplementedError("Exercise: implement f' in out
    assert out.endswith("print(1)")
    compile(out, "lab", "exec")  # the stub is valid Python


def test_top_level_block_and_markdown_block():
    out = strip_solution("### BEGIN SOLUTION\nn = 3\n### END SOLUTION\nprint(n)", WHERE)
    assert out.startswith("# YOUR CODE HERE\nraise NotImplementedError(")
    md = strip_solution("Answer:\n### BEGIN SOLUTION\n42 because\n### END SOLUTION", WHERE, markdown=True)
    assert md == "Answer:\n*Your answer here.*"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
        ("x = 1\n### END SOLUTION", "without a matching"),
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ],
)
def test_malformed_markers_are_refused_with_the_place(source, message):
    with pytest.raises(MarkerError, match=message) as info:
        strip_solution(source, WHERE)
    assert "x.ipynb, cell 3, line" in str(info.value)


def test_a_solution_without_markers_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    with pytest.raises(MarkerError, match="no '### BEGIN SOLUTION'"):
        make_lab(nb, "empty.ipynb")


def test_round_trip_clears_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                outputs=[nbformat.v4.new_output("stream", text="hi")],
                execution_count=4,
            ),
            nbformat.v4.new_code_cell("# CHECK\nassert f() == 1, 'f should return 1'"),
        ]
    )
    (tmp_path / "solutions").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / "01_x.ipynb")
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "99_orphan.ipynb").write_text("{}")
    changed = generate_labs(tmp_path / "solutions", tmp_path / "labs")
    assert {p.name for p in changed} == {"01_x.ipynb", "99_orphan.ipynb"}
    assert generate_labs(tmp_path / "solutions", tmp_path / "labs", check_only=True) == []
    lab = nbformat.read(tmp_path / "labs" / "01_x.ipynb", as_version=4)
    assert lab.cells[0].outputs == [] and lab.cells[0].execution_count is None
    assert is_check_cell(lab.cells[1])


def test_labs_are_in_sync_with_solutions():
    stale = generate_labs(ROOT / "solutions", ROOT / "labs", check_only=True)
    assert not stale, f"labs/ is stale ({[p.name for p in stale]}): run `make labs` and commit"


SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("solution", SOLUTIONS, ids=[s.stem for s in SOLUTIONS])
def test_unsolved_lab_check_cells_fail_helpfully(solution, monkeypatch):
    """Run the generated lab as a learner would before solving anything: every check cell must fail
    with the stub's NotImplementedError or an assertion's hint, never crash with anything else."""
    from nbclient import NotebookClient

    monkeypatch.setenv("GENAI_LAB_FAST", "1")
    lab = nbformat.reads(lab_text(solution), as_version=4)
    checks = [i for i, cell in enumerate(lab.cells) if is_check_cell(cell)]
    assert checks, f"{solution.name} has no '# CHECK' cell"
    NotebookClient(
        lab, timeout=600, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "labs")}},
    ).execute()
    for index in checks:
        errors = [o for o in lab.cells[index].outputs if o.output_type == "error"]
        assert errors, f"{solution.name} cell {index}: the check passed on the unsolved lab"
        error = errors[0]
        assert error.ename in ("NotImplementedError", "AssertionError"), (
            f"{solution.name} cell {index}: crashed with {error.ename}: {error.evalue}"
        )
        assert len(error.evalue) > 15, f"{solution.name} cell {index}: the message is not helpful"
