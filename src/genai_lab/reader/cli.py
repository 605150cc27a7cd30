"""The reader's command line (``python -m genai_lab.reader``): evaluate a reader on a SQuAD-format
file, or train one.

    python -m genai_lab.reader eval --squad FILE [--limit N] [--split test] [--base | --adapter PATH]
    python -m genai_lab.reader train [--out DIR] [--steps N] [--seconds S] [--squad-limit N]
    python -m genai_lab.reader train --out DIR --target-modules all-linear   # the ablation
    python -m genai_lab.reader calibrate --squad FILE [--adapter PATH] [--limit N]

``calibrate`` tunes the adapter's abstention bias on the dev split of the SQuAD file
(:mod:`genai_lab.reader.calibrate`), writes it beside the adapter, and prints the sweep.

``eval`` prints exactly one JSON object: ``em``, ``f1``, ``hasans_f1``, ``noans_accuracy``, ``n``. With
neither ``--base`` nor ``--adapter`` it evaluates the course's trained adapter (``data/reader/adapter``).
:func:`eval_main` is the function behind ``eval`` (``argv`` without the subcommand), for a CLI to hook;
a CLI with argparse subcommands can instead add :func:`add_eval_arguments` to its subparser and call
:func:`report_eval` with the parsed namespace.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from genai_lab.reader.evaluate import SQUAD_KEYS, Reader


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``eval`` (shared with any CLI that hooks :func:`eval_main`)."""
    parser.add_argument("--squad", required=True, type=Path, help="a SQuAD-format JSON file (v1.1 or v2.0)")
    parser.add_argument("--limit", type=int, default=None, help="score N questions drawn with a fixed seed")
    parser.add_argument("--split", choices=("train", "dev", "test"), default=None,
                        help="keep only the articles of this split of data/reader/squad2_split.json")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--base", action="store_true", help="the base SmolLM2, without an adapter")
    which.add_argument("--adapter", type=Path, default=None, help="a peft adapter folder (save_pretrained)")
    parser.add_argument("--abstain-bias", type=float, default=None,
                        help="added to the logit of 'I' (of \"I don't know\"); default: the adapter's tuned value, "
                             "0 for --base")
    return parser


def run_eval(args: argparse.Namespace, reader: Reader | None = None) -> dict[str, float | int]:
    """Load the questions, answer them with ``reader`` (default: SmolLM2, base or with the adapter the
    options name) and return the scores."""
    from genai_lab.reader import squad
    from genai_lab.reader.evaluate import GreedyReader, evaluate_squad, load_reader

    questions = squad.load_squad(args.squad)
    if args.split:
        questions = squad.select_split(questions, args.split, squad.load_split())
        if not questions:
            raise SystemExit(f"{args.squad} holds no article of the {args.split} split.")
    questions = squad.sample(questions, args.limit)
    if reader is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model, tokenizer = load_reader(args.adapter, base=args.base)
        bias = args.abstain_bias if args.abstain_bias is not None else default_bias(args)
        reader = GreedyReader(model, tokenizer, args.max_new_tokens, args.batch_size, abstain_bias=bias)
    return evaluate_squad(questions, reader)


def default_bias(args: argparse.Namespace) -> float:
    """The abstention bias saved beside the adapter the options name (0 for ``--base``)."""
    from genai_lab.reader.calibrate import load_bias
    from genai_lab.reader.train import adapter_dir

    return 0.0 if args.base else load_bias(args.adapter if args.adapter is not None else adapter_dir())


def eval_main(argv: Sequence[str] | None = None, reader: Reader | None = None) -> int:
    """Parse ``argv`` (the options of ``eval``), evaluate, print one JSON object with :data:`SQUAD_KEYS`.
    Bad input exits with status 2 and a one-line message on stderr."""
    args = add_eval_arguments(argparse.ArgumentParser(prog="eval-reader")).parse_args(argv)
    return report_eval(args, reader)


def report_eval(args: argparse.Namespace, reader: Reader | None = None) -> int:
    """Evaluate with the parsed options of :func:`add_eval_arguments` and print the one JSON object;
    return the exit status (2 with a message on stderr for bad input)."""
    try:
        report = run_eval(args, reader)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # A group with no question (e.g. no unanswerable one) is null: NaN is not JSON.
    clean = {k: None if isinstance(report[k], float) and math.isnan(report[k]) else report[k] for k in SQUAD_KEYS}
    print(json.dumps(clean, allow_nan=False))
    return 0


def train_main(argv: Sequence[str] | None = None) -> int:
    """Train the reader (see :mod:`genai_lab.reader.train`) and print the curve's summary as JSON."""
    from genai_lab.reader.train import ABSTAIN_SHARE, KB_REPEAT, SQUAD_LIMIT, ReaderTrainConfig, run_training

    parser = argparse.ArgumentParser(prog="python -m genai_lab.reader train")
    parser.add_argument("--out", type=Path, default=None, help="adapter folder (default data/reader/adapter)")
    parser.add_argument("--steps", type=int, default=ReaderTrainConfig.max_steps)
    parser.add_argument("--seconds", type=float, default=ReaderTrainConfig.max_seconds)
    parser.add_argument("--batch-size", type=int, default=ReaderTrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=ReaderTrainConfig.lr)
    parser.add_argument("--squad-limit", type=int, default=SQUAD_LIMIT, help="SQuAD train questions to draw")
    parser.add_argument("--kb-repeat", type=int, default=KB_REPEAT, help="copies of the KB's train examples")
    parser.add_argument("--abstain-share", type=float, default=ABSTAIN_SHARE,
                        help="the most of the mix that abstention targets may make")
    parser.add_argument("--target-modules", default=None, metavar="all-linear",
                        help="an ablation of the seed's targets (default q_proj, v_proj): e.g. all-linear")
    args = parser.parse_args(argv)
    if args.target_modules is not None and args.out is None:
        parser.error("--target-modules trains an ablation: give it its own --out folder, so that the course's "
                     "reader (data/reader/adapter, the seed's configuration) is not overwritten.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = ReaderTrainConfig(max_steps=args.steps, max_seconds=args.seconds, batch_size=args.batch_size, lr=args.lr,
                               target_modules=args.target_modules)
    out, curve = run_training(args.out, config, args.squad_limit, args.kb_repeat, args.abstain_share)
    print(json.dumps({"adapter": str(out), **curve.summary(), "stopped_by": curve.stopped_by}))
    return 0


def calibrate_main(argv: Sequence[str] | None = None) -> int:
    """Tune the abstention bias of an adapter on the dev split, save it beside the adapter, print the sweep."""
    from genai_lab.reader import squad
    from genai_lab.reader.calibrate import (
        CRITERION,
        abstention_token_id,
        choose_bias,
        first_token_scores,
        save_bias,
        sweep,
    )
    from genai_lab.reader.evaluate import GreedyReader, load_reader
    from genai_lab.reader.train import adapter_dir

    parser = argparse.ArgumentParser(prog="python -m genai_lab.reader calibrate")
    parser.add_argument("--squad", required=True, type=Path, help="SQuAD 2.0 file (its dev-split articles are used)")
    parser.add_argument("--adapter", type=Path, default=None, help="adapter folder (default data/reader/adapter)")
    parser.add_argument("--limit", type=int, default=None, help="tune on N dev questions drawn with a fixed seed")
    parser.add_argument("--dry-run", action="store_true", help="print the sweep, write nothing")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = args.adapter if args.adapter is not None else adapter_dir()
    try:
        dev = squad.select_split(squad.load_squad(args.squad), "dev", squad.load_split())
        questions = squad.sample(dev, args.limit)
        if not questions:
            raise ValueError(f"{args.squad} holds no article of the dev split (data/reader/squad2_split.json).")
        model, tokenizer = load_reader(folder)
        scores = first_token_scores(GreedyReader(model, tokenizer), [squad.to_example(q) for q in questions])
        rows = sweep(questions, scores)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bias = choose_bias(rows)
    if not args.dry_run:
        about = {"tuned_on": f"SQuAD 2.0 dev split, {len(questions)} questions", "criterion": CRITERION}
        save_bias(folder, bias, abstention_token_id(tokenizer), about)
    print(json.dumps({"abstain_bias": bias, "written": not args.dry_run, "sweep": rows}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"eval": eval_main, "train": train_main, "calibrate": calibrate_main}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
