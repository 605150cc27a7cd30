"""The multi-LoRA benchmark without a server: its cases, the round-robin assignment, the ratios, the
adapter checks, recording, the command line, and the client loop against a mocked HTTP transport."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from genai_lab.serving.bench import multi_lora as ml
from genai_lab.serving.bench.__main__ import build_parser
from genai_lab.serving.bench.__main__ import main as bench_main
from genai_lab.serving.bench.workload import SampleRequest


def fake_adapter(folder: Path, r: int = 8) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": r, "peft_type": "LORA"}))
    return folder


# ---- cases and assignment ----------------------------------------------------------------------
def test_round_robin_takes_the_models_in_turn() -> None:
    assert ml.round_robin(5, ["reader", "sst2"]) == ["reader", "sst2", "reader", "sst2", "reader"]
    assert ml.round_robin(4, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert ml.round_robin(3, ["a"]) == ["a"] * 3
    with pytest.raises(ValueError, match="at least one model"):
        ml.round_robin(3, [])


def test_the_three_cases_send_the_same_count_to_the_right_models_and_servers() -> None:
    cases = ml.build_cases(6, ["reader", "sst2"])
    assert [c.name for c in cases] == ["one_adapter", "mixed_adapters", "merged"]
    one, mixed, merged = cases
    assert one.models == ("reader",) * 6 and one.server == "lora"
    assert mixed.models == ("reader", "sst2") * 3 and mixed.server == "lora"
    assert merged.models == (ml.MERGED_MODEL,) * 6 and merged.server == "merged"
    base = ml.build_cases(2, ["sst2", "reader"], ["base", "one_adapter"])
    assert [(c.name, c.models, c.server) for c in base] == [
        ("base", (ml.BASE_MODEL,) * 2, "lora"), ("one_adapter", ("sst2",) * 2, "lora")]


@pytest.mark.parametrize(
    ("n", "adapters", "cases", "message"),
    [
        (0, ["reader", "sst2"], ml.CASES, "at least one request"),
        (4, ["reader"], ml.CASES, "two or more adapters"),
        (4, ["reader", "sst2"], ["one_adapter", "bogus"], "Unknown case"),
        (4, ["reader", "sst2"], ["merged", "merged"], "twice"),
        (4, ["reader", "sst2"], [], "Unknown case"),
        (4, [], ["one_adapter"], "No adapter"),
    ],
)
def test_bad_case_lists_are_refused(n, adapters, cases, message) -> None:
    with pytest.raises(ValueError, match=message):
        ml.build_cases(n, adapters, cases)


def test_one_adapter_and_merged_alone_need_only_one_adapter() -> None:
    assert [c.name for c in ml.build_cases(2, ["reader"], ["one_adapter", "merged"])] == ["one_adapter", "merged"]


# ---- ratios --------------------------------------------------------------------------------------
def test_ratios_divide_by_merged_and_mixed_by_one() -> None:
    got = ml.ratios({"one_adapter": 60.0, "mixed_adapters": 45.0, "merged": 120.0, "base": 100.0})
    assert got == pytest.approx({"one_adapter_vs_merged": 0.5, "mixed_adapters_vs_merged": 0.375,
                                 "base_vs_merged": 100 / 120, "mixed_vs_one": 0.75})


def test_ratios_leave_out_a_missing_or_zero_denominator() -> None:
    assert ml.ratios({"one_adapter": 60.0, "mixed_adapters": 30.0}) == pytest.approx({"mixed_vs_one": 0.5})
    assert ml.ratios({"one_adapter": 0.0, "mixed_adapters": 30.0, "merged": 0.0}) == {}
    assert ml.ratios({"merged": 50.0}) == {}


def test_table_rows_show_each_case_against_merged() -> None:
    metrics = {"completed": 4, "failed": 0, "median_tpot_ms": 10.0, "p99_e2el_ms": 900.0, "models": ["reader", "sst2"]}
    result = {"cases": {"mixed_adapters": metrics, "merged": {**metrics, "models": ["merged"]}},
              "tok_s": {"mixed_adapters": 30.0, "merged": 120.0}, "ratios": ml.ratios({"mixed_adapters": 30.0,
                                                                                       "merged": 120.0})}
    rows = ml.table_rows(result)
    assert rows[0]["models"] == "reader, sst2" and rows[0]["vs merged"] == pytest.approx(0.25)
    assert rows[1]["vs merged"] == 1.0 and rows[1]["output tok/s"] == 120.0


# ---- adapters ------------------------------------------------------------------------------------
def test_a_missing_adapter_folder_names_the_command_that_makes_it(tmp_path: Path) -> None:
    good = fake_adapter(tmp_path / "reader")
    with pytest.raises(FileNotFoundError, match=r"'sst2'.*python -m genai_lab\.peft\.sst2_adapter"):
        ml.check_adapters({"reader": good, "sst2": tmp_path / "missing"})
    with pytest.raises(FileNotFoundError, match=r"python -m genai_lab\.reader train"):
        ml.check_adapters({"reader": tmp_path / "missing"})
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        ml.check_adapters({"other": tmp_path})  # a folder without adapter_config.json
    assert ml.check_adapters({"reader": str(good)}) == {"reader": good}


@pytest.mark.parametrize("name", ["", "a=b", "two words", ml.MERGED_MODEL, ml.BASE_MODEL])
def test_adapter_names_that_clash_or_break_the_flag_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="Adapter name"):
        ml.check_adapters({name: fake_adapter(tmp_path / "a")})


def test_the_default_adapters_are_the_reader_and_the_sst2_adapter() -> None:
    adapters = ml.default_adapters()
    assert list(adapters) == ["reader", "sst2"]
    assert adapters["reader"].parts[-2:] == ("reader", "adapter")
    assert adapters["sst2"].parts[-3:] == ("data", "adapters", "sst2_sentiment")


# ---- recording -----------------------------------------------------------------------------------
def test_record_writes_the_three_keys_and_keeps_the_files_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "22_vllm_serving.json"
    path.write_text(json.dumps({"serving.vllm.other": 1.5, "machine": "old", "mode": "full", "date": "2020-01-01"}))
    ml.record(path, {"one_adapter": 61.23456, "mixed_adapters": 50.0, "merged": 99.0, "base": 80.0})
    data = json.loads(path.read_text())
    assert data["serving.vllm.other"] == 1.5
    assert data["serving.multi_lora.tok_s.one_adapter"] == 61.235
    assert data["serving.multi_lora.tok_s.mixed_adapters"] == 50.0 and data["serving.multi_lora.tok_s.merged"] == 99.0
    assert "serving.multi_lora.tok_s.base" not in data  # not a recorded figure
    assert data["date"] != "2020-01-01"
    with pytest.raises(ValueError, match="results JSON"):
        ml.record(tmp_path / "x.txt", {"merged": 1.0})


# ---- the client loop against a mocked server -----------------------------------------------------
def sse_server(seen: list[str], refuse: str | None = None):
    """A mocked /v1/completions: two streamed chunks and a usage event; 404 for model ``refuse``."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body["model"])
        if body["model"] == refuse:
            return httpx.Response(404, json={"error": f"The model `{refuse}` does not exist."})
        events = [{"choices": [{"text": "a"}]}, {"choices": [{"text": "b"}]},
                  {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": body["max_tokens"]}}]
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())

    return httpx.MockTransport(handler)


@contextmanager
def mocked_http(monkeypatch: pytest.MonkeyPatch, transport: httpx.MockTransport):
    real = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient", lambda **kw: real(transport=transport, **kw))
    yield


def requests(n: int, out: int = 3) -> list[SampleRequest]:
    return [SampleRequest(f"prompt {i}", 5, out) for i in range(n)]


def test_each_request_asks_for_its_own_model_after_one_warmup_per_model(monkeypatch) -> None:
    seen: list[str] = []
    with mocked_http(monkeypatch, sse_server(seen)):
        models = ml.round_robin(6, ["reader", "sst2"])
        result = ml.run_case("http://test/v1", models, requests(6), max_concurrency=2, num_warmups=1)
    assert sorted(seen[:2]) == ["reader", "sst2"]  # the warm-ups, unmeasured
    assert sorted(seen[2:]) == sorted(models) and len(seen) == 8
    assert result["completed"] == 6 and result["failed"] == 0 and result["total_output_tokens"] == 18
    assert result["output_throughput"] == pytest.approx(18 / result["duration"])
    assert result["models"] == models


def test_a_model_the_server_does_not_serve_fails_in_the_warmup(monkeypatch) -> None:
    with mocked_http(monkeypatch, sse_server([], refuse="sst2")), pytest.raises(RuntimeError, match="every adapter"):
        ml.run_case("http://test/v1", ["reader", "sst2"], requests(2), num_warmups=1)


def test_run_case_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="one name per request"):
        ml.run_case("http://test/v1", ["reader"], requests(2))
    with pytest.raises(ValueError, match="max_concurrency"):
        ml.run_case("http://test/v1", ["reader"], requests(1), max_concurrency=0)


# ---- orchestration with stand-in servers ---------------------------------------------------------
class StandInServer:
    started: list[dict] = []

    def __init__(self, model, **kwargs) -> None:
        self.record = {"model": str(model), **kwargs}
        self.base_url = f"http://{kwargs['served_model_name']}/v1"

    def __enter__(self):
        StandInServer.started.append(self.record)
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_lora_cases_share_one_server_and_merged_gets_a_second(monkeypatch, tmp_path: Path) -> None:
    import genai_lab.models
    import genai_lab.serving.server

    adapters = {"reader": fake_adapter(tmp_path / "r"), "sst2": fake_adapter(tmp_path / "s")}
    StandInServer.started = []
    calls = []

    def fake_case(base_url, models, reqs, **kw):
        calls.append((base_url, tuple(models)))
        tok_s = {"http://smollm2/v1": 40.0, "http://merged/v1": 100.0}[base_url] - (10.0 if "sst2" in models else 0)
        return {"completed": len(reqs), "failed": 0, "output_throughput": tok_s, "models": list(models)}

    monkeypatch.setattr(genai_lab.serving.server, "VLLMServer", StandInServer)
    monkeypatch.setattr(genai_lab.models, "prepare_smollm2", lambda: tmp_path / "base")
    monkeypatch.setattr(ml, "run_case", fake_case)
    monkeypatch.setattr(ml, "merge_adapter", lambda adapter, out, base: Path(out))
    result = ml.run_multi_lora(adapters=adapters, requests=requests(4), log_dir=tmp_path / "logs")
    lora, merged = StandInServer.started
    assert lora["lora_modules"] == adapters
    assert lora["extra_args"] == ["--no-enable-prefix-caching", "--max-loras", "2"]
    assert "lora_modules" not in merged and merged["served_model_name"] == "merged"
    assert merged["extra_args"] == ["--no-enable-prefix-caching"]  # no case may reuse another's cached prompt
    assert merged["model"].endswith("reader_merged")
    assert calls == [("http://smollm2/v1", ("reader",) * 4), ("http://smollm2/v1", ("reader", "sst2") * 2),
                     ("http://merged/v1", ("merged",) * 4)]
    assert result["tok_s"] == {"one_adapter": 40.0, "mixed_adapters": 30.0, "merged": 100.0}
    assert result["ratios"]["mixed_vs_one"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="max_loras"):
        ml.run_multi_lora(adapters=adapters, requests=requests(4), max_loras=0)


# ---- the command line ----------------------------------------------------------------------------
def test_the_subcommand_parses_with_the_documented_defaults() -> None:
    args = build_parser().parse_args(["multi-lora", "--record", "results/22_vllm_serving.json"])
    assert (args.command, args.cases, args.num_prompts, args.output_len, args.max_concurrency) == (
        "multi-lora", list(ml.CASES), 64, 32, 8)
    assert args.record == "results/22_vllm_serving.json" and args.max_loras is None


def test_the_command_fails_fast_on_a_missing_adapter_before_any_server(tmp_path: Path, capsys) -> None:
    code = bench_main(["multi-lora", "--adapter", f"reader={tmp_path}", "--adapter", f"sst2={tmp_path / 'no'}"])
    assert code == 2 and "python -m genai_lab" in capsys.readouterr().err
    assert bench_main(["multi-lora", "--max-loras", "0"]) == 2
    assert bench_main(["multi-lora", "--adapter", "reader"]) == 2


def test_parse_adapters() -> None:
    assert ml.parse_adapters(None) is None
    assert ml.parse_adapters(["a=x/y", "b=z"]) == {"a": Path("x/y"), "b": Path("z")}
    with pytest.raises(ValueError, match="NAME=PATH"):
        ml.parse_adapters(["=x"])
