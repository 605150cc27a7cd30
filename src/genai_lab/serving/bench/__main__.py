"""``python -m genai_lab.serving.bench``: the two benchmark clients as commands.

::

    python -m genai_lab.serving.bench ours --base-url http://127.0.0.1:8000/v1 --model smollm2 \\
        --tokenizer MODEL_DIR --num-prompts 32 --random-input-len 64 --random-output-len 32 \\
        --request-rate inf --goodput ttft:2000 tpot:500 --result-path build/bench/ours.json
    python -m genai_lab.serving.bench vllm --help     # everything after "vllm" goes to vLLM's parser
    python -m genai_lab.serving.bench multi-lora --num-prompts 64 --output-len 32 --max-concurrency 8 \\
        --record results/22_vllm_serving.json         # one adapter vs mixed adapters vs merged

``ours`` runs :func:`genai_lab.serving.bench.run_benchmark` on a ``random`` workload and saves the JSON
result; its flags are named as ``vllm bench serve``'s. ``vllm`` runs ``vllm.benchmarks.serve`` (what
``vllm bench serve`` runs) without needing the ``vllm`` console script. ``multi-lora`` runs
:mod:`genai_lab.serving.bench.multi_lora` (it starts its own vLLM servers).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from genai_lab.serving.bench.metrics import SLO_METRICS
from genai_lab.serving.bench.multi_lora import add_arguments as add_multi_lora_arguments


def _rate(text: str) -> float:
    rate = math.inf if text == "inf" else float(text)
    if not rate > 0:
        raise argparse.ArgumentTypeError(f"request rate {text!r} must be positive, or 'inf' (all at once)")
    return rate


def _slo(text: str) -> tuple[str, float]:
    name, sep, value = text.partition(":")
    if not sep or name not in SLO_METRICS:
        raise argparse.ArgumentTypeError(f"goodput SLO {text!r}: write NAME:MILLISECONDS, NAME one of {SLO_METRICS}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"goodput SLO {text!r}: {value!r} is not a number of ms") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ours = commands.add_parser("ours", help="our client on a random workload; saves a JSON result")
    ours.add_argument("--base-url", required=True, help="the OpenAI base URL, e.g. http://127.0.0.1:8000/v1")
    ours.add_argument("--model", required=True, help="the served model name")
    ours.add_argument("--tokenizer", required=True, help="a tokenizer folder or name (builds the prompts)")
    ours.add_argument("--num-prompts", type=int, required=True)
    ours.add_argument("--random-input-len", type=int, required=True)
    ours.add_argument("--random-output-len", type=int, required=True)
    ours.add_argument("--request-rate", type=_rate, default=math.inf, help="requests/s, or inf (default)")
    ours.add_argument("--burstiness", type=float, default=1.0, help="gamma shape of the gaps (1: Poisson)")
    ours.add_argument("--max-concurrency", type=int, default=None)
    ours.add_argument("--num-warmups", type=int, default=0)
    ours.add_argument("--seed", type=int, default=0)
    ours.add_argument("--metric-percentiles", default="99", help="comma-separated, e.g. 50,90,99")
    ours.add_argument("--goodput", type=_slo, nargs="+", default=[], metavar="NAME:MS", help="e.g. ttft:500 tpot:100")
    ours.add_argument("--result-path", required=True, help="where to write the JSON result")
    commands.add_parser("vllm", add_help=False, help="vllm.benchmarks.serve; all further arguments are its own")
    add_multi_lora_arguments(commands.add_parser("multi-lora", help="one adapter vs mixed adapters vs merged, on vLLM"))
    return parser


def _ours(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from genai_lab.serving.bench.client import run_benchmark, save_result
    from genai_lab.serving.bench.workload import random_requests

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    requests = random_requests(
        tokenizer, args.num_prompts, args.random_input_len, args.random_output_len, seed=args.seed
    )
    result = run_benchmark(
        args.base_url,
        args.model,
        requests,
        request_rate=args.request_rate,
        burstiness=args.burstiness,
        max_concurrency=args.max_concurrency,
        num_warmups=args.num_warmups,
        seed=args.seed,
        percentiles=[float(p) for p in args.metric_percentiles.split(",")],
        goodput_slo_ms=dict(args.goodput) or None,
    )
    path = save_result(result, args.result_path)
    print(f"{result['completed']} completed, {result['failed']} failed; result in {path}")
    if not result["completed"]:
        first = sorted(set(result["errors"]))[:3]
        print("every request failed; the first errors:", *first, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def _vllm(argv: Sequence[str]) -> int:
    from vllm.benchmarks.serve import add_cli_args, main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog=f"python -m {__package__} vllm")
    add_cli_args(parser)
    main(parser.parse_args(list(argv)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "vllm":
        return _vllm(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "multi-lora":
        from genai_lab.serving.bench.multi_lora import run_cli

        return run_cli(args)
    return _ours(args)


if __name__ == "__main__":
    sys.exit(main())
