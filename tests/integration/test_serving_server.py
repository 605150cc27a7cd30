"""The managed vLLM server, the benchmark client and the router against a real server on loopback.

The lifecycle tests at the top use stand-in processes (a tiny HTTP server with a child, a process
that dies, one that never answers) and take seconds. The tests marked ``real_model`` share ONE vLLM
server (a session-scoped fixture; about 40 s to start on an idle 2-core machine). Deselect them with
``-m "not real_model"``.
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genai_lab.serving.server import LOOPBACK, ServerStartupError, VLLMServer, free_port

# A stand-in server: answers 200 on /health and starts a child process (like vLLM's engine core).
FAKE_SERVER = textwrap.dedent(
    """
    import http.server, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("child", child.pid, flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404); self.end_headers()
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


class FakeServer(VLLMServer):
    def __init__(self, script: str, **kwargs) -> None:
        super().__init__(model="unused", **kwargs)
        self.script = script

    def command(self) -> list[str]:
        if self.port is None:
            self.port = free_port()
        return [sys.executable, "-c", self.script, str(self.port)]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _child_pid(log: Path) -> int:
    for _ in range(50):
        for line in log.read_text().splitlines():
            if line.startswith("child "):
                return int(line.split()[1])
        time.sleep(0.1)
    raise AssertionError(f"no child line in {log}")


def test_context_manager_cleans_up_after_an_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with pytest.raises(KeyError), FakeServer(FAKE_SERVER, log_path=log, startup_timeout=30) as server:
        assert server.healthy() and server.base_url.startswith(f"http://{LOOPBACK}:")
        pid, child = server.process.pid, _child_pid(log)
        assert _alive(pid) and _alive(child)
        raise KeyError("boom inside the with block")
    assert not _alive(pid) and not _alive(child), "the server or its child outlived the context"
    assert server.process is None
    server.stop()  # idempotent


def test_failed_start_shows_the_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('loading model...'); print('ValueError: no such model', flush=True); sys.exit(3)"
    server = FakeServer(script, log_path=tmp_path / "s.log", startup_timeout=30)
    with pytest.raises(ServerStartupError, match=r"(?s)exited with code 3.*no such model"):
        server.start()
    assert server.process is None


def test_start_timeout_kills_the_process_group(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('child', c.pid, flush=True); time.sleep(600)\n"
    )
    log = tmp_path / "s.log"
    server = FakeServer(script, log_path=log, startup_timeout=3)
    with pytest.raises(ServerStartupError, match=r"(?s)not healthy after 3 s.*child"):
        server.start()
    child = _child_pid(log)
    assert not _alive(child)


def test_launch_then_wait_overlaps_start_ups(tmp_path: Path) -> None:
    servers = [FakeServer(FAKE_SERVER, log_path=tmp_path / f"s{i}.log", startup_timeout=30) for i in range(2)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            assert server.wait_ready().healthy()
        assert servers[0].port != servers[1].port
    finally:
        for server in servers:
            server.stop()
    assert not any(server.is_running() for server in servers)


def test_bad_settings_name_the_fix() -> None:
    with pytest.raises(ValueError, match="loopback"):
        VLLMServer(extra_args=["--host", "0.0.0.0"])
    with pytest.raises(ValueError, match="KV cache"):
        VLLMServer(kv_cache_memory_bytes=0)


def test_command_is_bounded_and_loopback() -> None:
    cmd = VLLMServer(model="/some/model", port=1234, block_size=16).command()
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert int(cmd[cmd.index("--kv-cache-memory-bytes") + 1]) > 0
    assert "--enforce-eager" in cmd and cmd[cmd.index("--block-size") + 1] == "16"
    assert "--disable-log-stats" in cmd  # quiet by default
    assert "--disable-log-stats" not in VLLMServer(model="/m", port=1234, log_stats=True).command()


# ---- one real vLLM server for the rest: the session fixture `vllm_server` lives in conftest.py ----


@pytest.mark.real_model
def test_server_answers_chat_and_streams(vllm_server: VLLMServer) -> None:
    import openai
    import psutil

    leader = psutil.Process(vllm_server.process.pid)
    listening = [
        c.laddr
        for p in [leader, *leader.children(recursive=True)]
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == vllm_server.port
    ]
    assert listening and all(addr.ip == LOOPBACK for addr in listening)
    client = openai.OpenAI(base_url=vllm_server.base_url, api_key="EMPTY", max_retries=0)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    reply = client.chat.completions.create(model="smollm2", messages=question, max_tokens=12, temperature=0)
    assert "paris" in reply.choices[0].message.content.lower()
    chunks = list(
        client.completions.create(
            model="smollm2", prompt="One, two, three,", max_tokens=6, stream=True, extra_body={"ignore_eos": True}
        )
    )
    assert sum(bool(c.choices and c.choices[0].text) for c in chunks) >= 5


@pytest.mark.real_model
def test_benchmark_client_against_the_server(vllm_server: VLLMServer) -> None:
    from transformers import AutoTokenizer

    from genai_lab.serving.bench import random_requests, run_benchmark

    tokenizer = AutoTokenizer.from_pretrained(vllm_server.model)
    requests = random_requests(tokenizer, 4, input_len=16, output_len=8, seed=0)
    result = run_benchmark(
        vllm_server.base_url, "smollm2", requests, request_rate=math.inf, num_warmups=1, max_concurrency=2
    )
    assert result["completed"] == 4 and result["failed"] == 0
    assert result["total_output_tokens"] == 32  # ignore_eos: exactly output_len each
    assert result["mean_ttft_ms"] > 0 and result["mean_tpot_ms"] > 0 and result["output_throughput"] > 0
    assert all(len(itl) == 7 for itl in result["itls"])


@pytest.mark.real_model
def test_benchmark_client_in_its_own_process(vllm_server: VLLMServer, tmp_path: Path) -> None:
    from genai_lab.serving.bench import run_benchmark_subprocess

    result = run_benchmark_subprocess(vllm_server.base_url, "smollm2", vllm_server.model, 3, 16, 5,
                                      tmp_path / "ours.json", num_warmups=1, goodput_slo_ms={"ttft": 60_000.0})
    assert result["completed"] == 3 and result["failed"] == 0 and result["total_output_tokens"] == 15
    assert (tmp_path / "ours.json").is_file() and result["request_goodput"] > 0
    with pytest.raises(RuntimeError, match="our benchmark client failed"):
        run_benchmark_subprocess("http://127.0.0.1:9/v1", "smollm2", "/no/such/tokenizer", 1, 4, 2, tmp_path / "x.json")


@pytest.mark.real_model
def test_both_clients_agree_as_subprocesses(vllm_server: VLLMServer, tmp_path: Path) -> None:
    """``python -m genai_lab.serving.bench vllm ...`` runs vLLM's benchmark; same workload shape as ours."""
    from genai_lab.serving.bench import run_vllm_bench

    theirs = run_vllm_bench(vllm_server.base_url, "smollm2", vllm_server.model, 3, 16, 5, tmp_path / "vllm.json",
                            log_path=tmp_path / "vllm.log")  # fmt: skip
    assert theirs["completed"] == 3 and theirs["total_output_tokens"] == 15
    assert theirs["mean_tpot_ms"] > 0 and "p99_itl_ms" in theirs
    assert (tmp_path / "vllm.log").stat().st_size > 0


@pytest.mark.real_model
def test_the_kv_cache_line_of_the_log(vllm_server: VLLMServer) -> None:
    kv = vllm_server.kv_cache()
    # 128 MiB at 46,080 bytes per token (float32 SmolLM2), rounded down to whole blocks
    assert 2000 < kv.tokens <= 128 * 1024**2 // 46_080
    assert kv.tokens_per_request == 1024 and kv.max_concurrency == pytest.approx(kv.tokens / 1024, abs=0.01)


@pytest.mark.real_model
def test_router_against_the_server_fails_closed(vllm_server: VLLMServer, tmp_path: Path) -> None:
    from genai_lab.serving.router import (
        ConfidentialRouteError,
        Router,
        RouterConfig,
        RouterPolicy,
        openai_transport,
    )

    sent: list[str] = []

    def transport(endpoint, messages, options):
        sent.append(endpoint.name)
        return openai_transport(endpoint, messages, options)

    policy = RouterPolicy.from_knowledge_base(Path(__file__).parents[1] / "fixtures" / "kb" / "manifest.json")
    dead = f"http://{LOOPBACK}:{free_port()}/v1"  # nothing listens there
    config = RouterConfig.from_mapping({
        "internal": {"base_url": dead, "model": "smollm2"},
        "external": {"base_url": vllm_server.base_url, "model": "smollm2"},
    })  # fmt: skip
    router = Router(policy, config, tmp_path / "audit.jsonl", transport=transport)
    answer = router.complete("What is the latest news about the weather today?", max_tokens=8)
    assert answer.endpoint == "external" and answer.text
    with pytest.raises(ConfidentialRouteError, match="NOT sent"):
        router.complete("Project Nightjar: what is the latest news?", max_tokens=8)
    assert sent == ["external", "internal"]  # the confidential one was tried internally only


@pytest.mark.real_model
def test_langchain_chat_openai_against_the_server(vllm_server: VLLMServer) -> None:
    from genai_lab.serving.router import Endpoint

    llm = Endpoint("internal", vllm_server.base_url, "smollm2").chat_model(max_tokens=8)
    assert llm.invoke("Say hello.").content


@pytest.mark.real_model
def test_metrics_match_vllm_calculate_metrics() -> None:
    """Our arithmetic against vLLM's ``calculate_metrics`` on the same synthetic records (imports
    vLLM, which takes tens of seconds, hence grouped with the server tests)."""
    from genai_lab.serving.bench import RequestRecord, compute_metrics, record_from_timestamps

    serve = pytest.importorskip("vllm.benchmarks.serve")
    from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput

    records = [
        record_from_timestamps(0.0, [0.1, 0.15, 0.2, 0.25], prompt_len=10),
        record_from_timestamps(1.0, [1.4], prompt_len=20),
        record_from_timestamps(2.0, [2.2, 2.3, 2.6], prompt_len=30, output_tokens=5),
        RequestRecord(prompt_len=40, error="HTTP 500"),
    ]
    outputs = []
    for r in records:
        o = RequestFuncOutput()
        o.success, o.prompt_len, o.output_tokens = r.success, r.prompt_len, r.output_tokens
        o.ttft, o.itl, o.latency, o.start_time, o.error = r.ttft, list(r.itl), r.latency, r.start_time, r.error
        outputs.append(o)
    theirs, _ = serve.calculate_metrics(
        input_requests=[None] * len(outputs),
        outputs=outputs,
        dur_s=4.0,
        tokenizer=None,
        selected_percentiles=[99.0],
        goodput_config_dict={"ttft": 250.0, "tpot": 120.0},
    )
    ours = compute_metrics(records, 4.0, goodput_slo_ms={"ttft": 250, "tpot": 120})
    for name in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std"):
            assert ours[f"{stat}_{name}_ms"] == pytest.approx(getattr(theirs, f"{stat}_{name}_ms"))
        assert ours[f"p99_{name}_ms"] == pytest.approx(dict(getattr(theirs, f"percentiles_{name}_ms"))[99.0])
    assert ours["output_throughput"] == pytest.approx(theirs.output_throughput)
    assert ours["request_goodput"] == pytest.approx(theirs.request_goodput)


def test_a_server_started_from_a_worker_thread_survives_the_thread(tmp_path: Path) -> None:
    # Linux sends the parent-death signal when the creating *thread* exits; the manager must not ask
    # for it there, or a server started from a thread pool dies with the pool.
    import threading

    server = FakeServer(FAKE_SERVER, log_path=tmp_path / "s.log", startup_timeout=30)
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()
    try:
        time.sleep(0.5)
        assert server.is_running() and server.healthy()
    finally:
        server.stop()
