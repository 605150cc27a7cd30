"""How ``python -m genai_lab.app`` picks its backend (genai_lab.app.startup and __main__.serve): URLs in the
environment, ``--in-process``, the app's own vLLM server by default, and the one-line fallback when vLLM
cannot start. Fakes only: no model, no server, no subprocess."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from langchain_core.documents import Document  # noqa: E402

from genai_lab.app import startup  # noqa: E402
from genai_lab.app.fake import FakeChatModel, HashingEmbeddings  # noqa: E402
from genai_lab.app.index import KnowledgeIndex  # noqa: E402
from genai_lab.app.service import AppConfig, ModelSlot, create_app  # noqa: E402
from genai_lab.app.startup import VLLMStart, bring_up_vllm, choose_backend, course_lora_modules  # noqa: E402
from genai_lab.serving.process import ServerStartupError  # noqa: E402
from genai_lab.serving.router import RouterPolicy  # noqa: E402


# ---- the choice ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "env", "kind"),
    [
        ({}, {}, "managed_vllm"),
        ({}, {"GENAI_LAB_VLLM_URL": "http://127.0.0.1:8001"}, "vllm_urls"),
        ({}, {"GENAI_LAB_VLLM_URLS": "http://127.0.0.1:8001,http://127.0.0.1:8002"}, "vllm_urls"),
        ({}, {"GENAI_LAB_VLLM_URL": "  "}, "managed_vllm"),  # blank is unset
        ({"in_process": True}, {"GENAI_LAB_VLLM_URL": "http://127.0.0.1:8001"}, "in_process"),
        ({"fake": True}, {"GENAI_LAB_VLLM_URL": "http://127.0.0.1:8001"}, "fake"),
    ],
)
def test_choose_backend(flags, env, kind):
    choice = choose_backend(environ=env, **flags)
    assert choice.kind == kind
    if kind == "vllm_urls":
        assert next(iter(env.values())) in choice.reason  # the log says which servers


def test_fake_and_in_process_together_is_a_clear_error():
    with pytest.raises(ValueError, match="exclude each other"):
        choose_backend(fake=True, in_process=True, environ={})
    from genai_lab.app.__main__ import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fake", "--in-process"])
    assert build_parser().parse_args(["--in-process"]).in_process is True


# ---- the LoRA modules ---------------------------------------------------------------------------
def _adapter(folder: Path, **config) -> Path:
    folder.mkdir(parents=True)
    fields = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8,
              "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", **config}  # fmt: skip
    (folder / "adapter_config.json").write_text(json.dumps(fields))
    return folder


def test_course_lora_modules_keep_only_smollm2_causal_lm_lora_folders(tmp_path, caplog):
    _adapter(tmp_path / "reader" / "adapter")
    _adapter(tmp_path / "adapters" / "sst2", task_type="SEQ_CLS")
    _adapter(tmp_path / "adapters" / "other", base_model_name_or_path="gpt2")
    entries = (("reader", "reader/adapter"), ("sst2", "adapters/sst2"), ("other", "adapters/other"),
               ("missing", "adapters/missing"))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="genai_lab.app"):
        found = course_lora_modules(tmp_path, entries)
    assert found == {"reader": tmp_path / "reader" / "adapter"}
    said = caplog.text
    assert "'sst2' not served" in said and "SEQ_CLS" in said
    assert "'other' not served" in said and "gpt2" in said
    assert "'missing' not served: no adapter_config.json" in said


def test_the_course_registers_its_reader():
    assert course_lora_modules()["reader"].name == "adapter"  # data/reader/adapter, committed


# ---- starting vLLM ------------------------------------------------------------------------------
class FakeServer:
    """Stands in for VLLMServer: records its settings and what happened to it."""

    kv_cache_memory_bytes = 256 * 1024**2
    instances: list[FakeServer] = []

    def __init__(self, fail: BaseException | None = None, wait_s: float = 0.0, **settings) -> None:
        self.settings, self.fail, self.wait_s = settings, fail, wait_s
        self.startup_timeout = settings["startup_timeout"]
        self.url, self.base_url, self.pid, self.log_path = "http://127.0.0.1:9", "http://127.0.0.1:9/v1", 4242, "/x.log"
        self.startup_seconds: float | None = None
        self.events: list[str] = []
        FakeServer.instances.append(self)

    def launch(self):
        self.events.append("launch")
        return self

    def wait_ready(self):
        time.sleep(self.wait_s)
        if self.fail is not None:
            raise self.fail
        self.startup_seconds = self.wait_s
        self.events.append("ready")
        return self

    def stop(self):
        self.events.append("stop")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(["INFO loading", "ValueError: no room for the KV cache"][-lines:])


def factory(**behaviour):
    return lambda **settings: FakeServer(**behaviour, **settings)


def test_vllm_starts_with_prefix_caching_and_the_lora_modules_and_shows_progress(caplog):
    modules = {"reader": Path("/data/reader/adapter")}
    with caplog.at_level(logging.INFO, logger="genai_lab.app"):
        started = bring_up_vllm(modules, 120, server_factory=factory(wait_s=0.25), progress_every=0.05)
    server = started.server
    assert server.events == ["launch", "ready"]
    assert "--enable-prefix-caching" in server.settings["extra_args"]
    assert server.settings["extra_args"][-2:] == ["--max-loras", "1"]
    assert server.settings["log_stats"] is True  # vLLM keeps its engine stats in /metrics (prefix-cache hits)
    assert server.settings["lora_modules"] == modules and server.settings["startup_timeout"] == 120
    progress = [r.getMessage() for r in caplog.records if "vLLM is starting..." in r.getMessage()]
    assert progress and all(" s (timeout 120 s" in line for line in progress)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    health = started.health()
    assert health["managed"] and health["pid"] == 4242 and health["lora_modules"] == ["reader"]


@pytest.mark.parametrize(
    "error",
    [ServerStartupError("The vLLM server exited with code 1 during start-up. Last log lines (/x.log):\nboom"),
     ServerStartupError("The vLLM server was not healthy after 120 s (raise startup_timeout ...):\nslow"),
     FileNotFoundError("LoRA module 'reader': no adapter_config.json in /nowhere")],
)
def test_a_failed_start_falls_back_with_one_line_that_says_why_and_how(caplog, error):
    with caplog.at_level(logging.INFO, logger="genai_lab.app"):
        started = bring_up_vllm({}, 120, server_factory=factory(fail=error))
    assert started.server is None
    assert FakeServer.instances[-1].events == ["launch", "stop"]  # nothing left running
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    line = warnings[0]
    assert str(error).splitlines()[0].split(" Last log lines")[0] in line and "Last log lines" not in line
    assert "'ValueError: no room for the KV cache'; full log: /x.log" in line  # the log's last line, and where
    assert "in-process SmolLM2" in line and "APP_ARGS=--in-process" in line
    assert started.reason in line and started.health() == {"managed": False, "fallback_reason": started.reason}


def test_vllm_not_installed_falls_back_without_starting_anything(monkeypatch, caplog):
    monkeypatch.setattr(startup.importlib.util, "find_spec", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="genai_lab.app"):
        started = bring_up_vllm({})
    assert started.server is None and "not installed" in started.reason
    assert len(caplog.records) == 1 and "make setup" in caplog.records[0].getMessage()


# ---- the app's wiring (__main__.serve) ----------------------------------------------------------
@pytest.fixture
def wired(monkeypatch):
    """serve() with default_app, uvicorn and bring_up_vllm replaced by recorders."""
    import uvicorn

    from genai_lab.app import server as app_server
    from genai_lab.app import service

    seen: dict = {"started": []}

    def fake_default_app(**kwargs):
        seen["app"] = kwargs
        internal = SimpleNamespace(label="internal: x", backend=seen.get("backend", "vllm"))
        state = SimpleNamespace(models={"internal": internal}, backend_info=dict(kwargs["backend_info"]))
        seen["state"] = state
        return SimpleNamespace(state=state)

    class Uvicorn:
        def __init__(self, config) -> None:
            pass

        def run(self):
            seen["ran"] = [list(s.events) for s in seen["started"] if s is not None]
            if seen.get("crash"):
                raise RuntimeError("crash")

    def fake_bring_up(modules, timeout):
        seen["modules"] = modules
        server = None if seen.get("fail") else FakeServer(startup_timeout=timeout)
        seen["started"].append(server)
        return VLLMStart(server, "vLLM did not start: boom" if server is None else "", dict(modules))

    monkeypatch.setattr(service, "default_app", fake_default_app)
    monkeypatch.setattr(app_server, "uvicorn_config", lambda *a, **k: None)
    monkeypatch.setattr(uvicorn, "Server", Uvicorn)
    monkeypatch.setattr(startup, "bring_up_vllm", fake_bring_up)
    monkeypatch.setattr(startup, "course_lora_modules", lambda: {"reader": Path("r"), "part1": Path("p")})
    monkeypatch.delenv("GENAI_LAB_VLLM_URL", raising=False)
    monkeypatch.delenv("GENAI_LAB_VLLM_URLS", raising=False)
    return seen


def _serve(*argv: str) -> int:
    from genai_lab.app.__main__ import build_parser, serve

    args: argparse.Namespace = build_parser().parse_args(list(argv))
    return serve(args, {}, {}, None)


def test_default_serves_the_managed_vllm_and_stops_it_afterwards(wired):
    assert _serve() == 0
    server = wired["started"][0]
    assert wired["ran"] == [[]]  # while uvicorn served, the server was not stopped
    assert server.events == ["stop"]  # stopped when uvicorn returned
    app = wired["app"]
    assert (app["base_url"], app["in_process"]) == (server.base_url, False)
    assert app["adapters"] == {"part1": Path("p")}  # the reader is the default model, not a choice
    assert set(wired["modules"]) == {"reader", "part1"}
    assert app["backend_info"]["vllm"]["managed"] is True


def test_vllm_is_stopped_even_when_serving_crashes(wired):
    wired["crash"] = True
    with pytest.raises(RuntimeError, match="crash"):
        _serve()
    assert wired["started"][0].events == ["stop"]


def test_failed_vllm_serves_in_process_and_says_why(wired):
    wired["fail"] = True
    assert _serve() == 0
    app = wired["app"]
    assert (app["base_url"], app["in_process"]) == (None, True)
    assert app["backend_info"]["reason"] == "vLLM did not start: boom"


def test_in_process_flag_never_starts_vllm(wired, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_VLLM_URL", "http://127.0.0.1:8001")
    _serve("--in-process")
    assert wired["started"] == [] and wired["app"]["in_process"] is True and wired["app"]["base_url"] is None


def test_urls_in_the_environment_are_used_as_they_are(wired, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_VLLM_URL", "http://127.0.0.1:8001")
    _serve()
    assert wired["started"] == [] and wired["app"]["in_process"] is False and wired["app"]["base_url"] is None
    assert wired["app"]["adapters"] == {}  # a server we did not start serves only what it was started with
    assert "GENAI_LAB_VLLM_URL" in wired["app"]["backend_info"]["reason"]
    assert "none answered" not in wired["state"].backend_info["reason"]


def test_urls_that_do_not_answer_are_reported(wired, monkeypatch, caplog):
    monkeypatch.setenv("GENAI_LAB_VLLM_URL", "http://127.0.0.1:8001")
    wired["backend"] = "transformers"  # get_chat_model found no server there
    with caplog.at_level(logging.WARNING, logger="genai_lab.app"):
        _serve()
    reason = wired["state"].backend_info["reason"]
    assert "none answered" in reason and "in-process" in reason and reason in caplog.text


# ---- /healthz says which backend answers --------------------------------------------------------
@pytest.mark.parametrize(("backend", "shown"), [("vllm", "vllm"), ("transformers", "in_process"), ("fake", "fake")])
def test_healthz_reports_the_backend_and_why(backend, shown):
    index = KnowledgeIndex.from_chunks(
        [Document(page_content="Warranty: 24 months.", metadata={"source": "w.md", "classification": "public"})],
        embedding=HashingEmbeddings(),
    )
    models = {route: ModelSlot(FakeChatModel(name_label=route), f"{route}: x", backend)
              for route in ("internal", "external")}  # fmt: skip
    info = {"reason": "vLLM did not start: boom", "vllm": {"managed": False, "fallback_reason": "boom"}}
    app = create_app(index, models, policy=RouterPolicy(project_names=["Kestrel"]), config=AppConfig(),
                     backend_info=info)  # fmt: skip
    health = TestClient(app, base_url="http://127.0.0.1").get("/healthz").json()
    assert health["backend"] == shown
    assert health["reason"] == "vLLM did not start: boom" and health["vllm"]["managed"] is False


def test_the_committed_course_adapters_are_all_served():
    """Both adapters in data/ (the grounded reader and the Part 1 SST-2 adapter) pass the checks, so a
    fresh clone's managed vLLM server registers both as LoRA modules."""
    from genai_lab.app.startup import course_lora_modules

    assert sorted(course_lora_modules()) == ["reader", "sst2"]
