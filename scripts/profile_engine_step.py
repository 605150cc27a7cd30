"""Profile engine steps on the real SmolLM2 with ``torch.profiler`` (one short run).

    .venv/bin/python scripts/profile_engine_step.py [--seqs 32] [--steps 5] [--rows 25]

Fills the engine with ``--seqs`` chat prompts, runs the prefill and a few warm-up decoding steps,
then profiles ``--steps`` decoding steps and prints the operators by self CPU time, and how much of
the wall time no operator accounts for (Python overhead between operators).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seqs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from genai_lab.models import load_smollm2
    from genai_lab.serving.engine import Engine, SamplingParams

    torch.manual_seed(0)
    model, tokenizer = load_smollm2()
    prompts = [
        list(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": f"Tell me fact number {i} about the sea."}],
                add_generation_prompt=True,
                return_dict=True,
            )["input_ids"]
        )
        for i in range(args.seqs)
    ]
    engine = Engine(model, tokenizer, num_blocks=512, block_size=16, max_num_seqs=args.seqs)
    for p in prompts:
        engine.add_request(p, SamplingParams(max_tokens=64, ignore_eos=True))
    for _ in range(4):  # prefill and warm-up decoding steps
        engine.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(args.steps):
            engine.step()
        wall = time.perf_counter() - start
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    op_us = sum(e.self_cpu_time_total for e in averages)
    ops = sum(e.count for e in averages)
    print(f"{args.steps} decoding steps of {args.seqs} sequences: {wall * 1e3 / args.steps:.1f} ms/step (profiled), "
          f"{ops / args.steps:.0f} operator calls/step, operators' self time {op_us / 1e3 / args.steps:.1f} ms/step "
          f"({op_us / 1e6 / wall:.0%} of wall time)")


if __name__ == "__main__":
    main()
