"""The benchmark client's streaming, orchestration and command line, against in-memory stand-ins
(``httpx.MockTransport``): no server, milliseconds."""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading

import httpx
import pytest

from genai_lab.serving.bench import SampleRequest, client, run_benchmark, send_request
from genai_lab.serving.bench.__main__ import build_parser, main
from genai_lab.serving.bench.jupyter import run_sync
from genai_lab.serving.bench.metrics import RequestRecord

STREAM = {"content-type": "text/event-stream"}
REQUEST = SampleRequest("one two three", prompt_len=3, expected_output_len=4)


def sse(*messages: object, done: bool = True) -> bytes:
    """A ``/v1/completions`` stream as vLLM writes it, with a comment line as keep-alive."""
    events = [": ping"] + [f"data: {json.dumps(m)}" for m in messages] + (["data: [DONE]"] if done else [])
    return ("\n\n".join(events) + "\n\n").encode()


def chunk(text: str) -> dict:
    return {"choices": [{"index": 0, "text": text}]}


def mock_client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def send(handler, request: SampleRequest = REQUEST, **kwargs) -> RequestRecord:
    async def go() -> RequestRecord:
        async with mock_client(handler) as c:
            return await send_request(c, "http://test/v1/completions", "m", request, **kwargs)

    return asyncio.run(go())


def test_a_stream_becomes_a_record_with_the_servers_token_count() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
        return httpx.Response(200, headers=STREAM, content=sse(chunk("a"), chunk("b"), chunk(""), usage))

    r = send(handler, extra_body={"temperature": 0.0})
    assert r.success and r.error == ""
    assert r.generated_text == "ab"
    assert len(r.itl) == 2  # three chunks with a choice (an empty text still counts, as in vLLM)
    assert (r.prompt_len, r.output_tokens) == (5, 7)  # usage wins over the chunk count
    assert r.latency >= r.ttft > 0
    body = seen[0]
    assert body["stream"] and body["ignore_eos"] and body["max_tokens"] == 4 and body["temperature"] == 0.0
    assert body["stream_options"] == {"include_usage": True}


def test_without_usage_the_chunks_are_counted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=STREAM, content=sse(chunk("x"), chunk("y")))

    r = send(handler)
    assert r.success and r.output_tokens == 2 and r.prompt_len == 3


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (httpx.Response(400, json={"message": "max_tokens too large"}), "HTTP 400: .*max_tokens too large"),
        (httpx.Response(200, headers=STREAM, content=sse()), "no streamed chunk"),
        (httpx.Response(200, headers=STREAM, content=b"data: {not json\n\n"), "JSONDecodeError"),
        (httpx.Response(200, json={"choices": []}), "SSEError"),  # not a stream at all
    ],
)
def test_failures_become_failed_records_that_say_why(response: httpx.Response, needle: str) -> None:
    r = send(lambda request: response)
    assert not r.success
    assert r.error and re.search(needle, r.error), r.error


def test_a_connection_error_is_a_failed_record() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    r = send(handler)
    assert not r.success and r.error.startswith("ConnectError")


def test_run_benchmark_caps_concurrency_and_sends_warmups(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"now": 0, "peak": 0, "calls": 0}

    async def fake_send(c, url, model, request, ignore_eos=True, extra_body=None) -> RequestRecord:
        state["now"] += 1
        state["calls"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return RequestRecord(request.prompt_len, output_tokens=2, ttft=0.01, itl=[0.01], latency=0.02, success=True)

    monkeypatch.setattr(client, "send_request", fake_send)
    requests = [REQUEST] * 6
    result = run_benchmark("http://test/v1", "m", requests, max_concurrency=2, num_warmups=3)
    assert state["calls"] == 9  # 3 warm-ups are sent and not measured
    assert state["peak"] == 2
    assert result["completed"] == 6 and result["num_prompts"] == 6 and result["request_rate"] == "inf"
    assert result["total_output_tokens"] == 12 and result["max_concurrency"] == 2
    with pytest.raises(ValueError, match="max_concurrency"):
        run_benchmark("http://test/v1", "m", requests, max_concurrency=0)
    with pytest.raises(ValueError, match="random_requests"):
        run_benchmark("http://test/v1", "m", [])


def test_run_sync_works_inside_a_running_loop() -> None:
    async def value() -> str:
        return threading.current_thread().name

    async def boom() -> None:
        raise KeyError("inside")

    async def notebook_cell() -> str:  # a running loop, as in a Jupyter kernel
        with pytest.raises(KeyError, match="inside"):
            run_sync(boom)
        return run_sync(value)

    assert run_sync(value) == threading.current_thread().name  # no loop: plain asyncio.run
    assert asyncio.run(notebook_cell()) == "genai-lab-asyncio"


def test_command_line_flags_are_vllms() -> None:
    args = build_parser().parse_args(
        "ours --base-url http://h/v1 --model m --tokenizer t --num-prompts 2 --random-input-len 8 "
        "--random-output-len 4 --request-rate 2.5 --goodput ttft:500 tpot:50 --result-path r.json".split()
    )
    assert args.request_rate == 2.5 and dict(args.goodput) == {"ttft": 500.0, "tpot": 50.0}
    minimal = "ours --base-url u --model m --tokenizer t --num-prompts 1 --random-input-len 1 --random-output-len 1"
    assert build_parser().parse_args([*minimal.split(), "--result-path", "r"]).request_rate == math.inf


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ("ours --request-rate 0", "must be positive"),
        ("ours --goodput latency:5", "NAME:MILLISECONDS"),
        ("ours --goodput ttft:fast", "not a number"),
        ("ours --base-url u --model m --tokenizer t --num-prompts 1 --random-input-len 1 --random-output-len 1 "
         "--result-path r --no-such-flag", "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_command_lines_name_the_fix(argv: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv.split())
    assert needle in capsys.readouterr().err


def test_the_runners_call_the_command_line_and_read_its_result(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import subprocess
    import sys

    from genai_lab.serving.bench import run_benchmark_subprocess, run_vllm_bench, runners

    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
        calls.append(cmd)
        if cmd[3] == "ours":  # "ours" writes --result-path; this stand-in of vLLM writes nothing and fails
            out = cmd[cmd.index("--result-path") + 1]
            with open(out, "w", encoding="utf-8") as fh:
                json.dump({"completed": 2}, fh)
            return subprocess.CompletedProcess(cmd, 0, "2 completed", "")
        return subprocess.CompletedProcess(cmd, 2, "", "error: unrecognized arguments: --bogus")

    monkeypatch.setattr(runners.subprocess, "run", fake_run)
    stale = tmp_path / "ours.json"
    stale.write_text('{"completed": 999}')
    got = run_benchmark_subprocess("http://h/v1", "m", "tok", 2, 8, 4, stale, request_rate=math.inf,
                                   goodput_slo_ms={"ttft": 500.0, "tpot": 50.0})
    assert got == {"completed": 2}  # the new result, never the stale file
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "genai_lab.serving.bench", "ours"]
    assert cmd[cmd.index("--request-rate") + 1] == "inf" and cmd[-2:] == ["ttft:500.0", "tpot:50.0"]
    assert build_parser().parse_args(cmd[3:]).goodput == [("ttft", 500.0), ("tpot", 50.0)]  # our parser accepts it
    with pytest.raises(RuntimeError, match=r"(?s)vllm.benchmarks.serve failed \(exit 2\).*--bogus"):
        run_vllm_bench("http://h/v1", "m", "tok", 2, 8, 4, tmp_path / "vllm.json", max_concurrency=2)
    vllm_cmd = calls[1]
    assert vllm_cmd[3] == "vllm" and vllm_cmd[vllm_cmd.index("--base-url") + 1] == "http://h"
    assert vllm_cmd[-2:] == ["--max-concurrency", "2"]
