"""Command line behind the Makefile: ``python -m genai_lab.cli <command>``.

    prepare-models   convert SmolLM2 to a Hugging Face folder once and check MiniLM (idempotent)
    labs [--check]   regenerate labs/ from solutions/ (or fail if labs/ is stale)
    run [names...]   execute the notebooks in order and write build/summary.html
    summary          rewrite build/summary.html from results/
    env              print versions, device and mode
    eval-reader      score the grounded reader on a SQuAD-format file: one JSON object
                     (em, f1, hasans_f1, noans_accuracy, n); --base, or --adapter PATH
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genai-lab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare-models", help="convert and check the offline models")
    labs = sub.add_parser("labs", help="generate labs/ from solutions/")
    labs.add_argument("--check", action="store_true", help="only report stale labs; exit 1 if any")
    run = sub.add_parser("run", help="execute the course notebooks in order")
    run.add_argument("names", nargs="*", help="only notebooks whose names start with these")
    run.add_argument("--in-place", action="store_true", help="overwrite notebooks/ (authors only)")
    sub.add_parser("summary", help="write build/summary.html from results/")
    sub.add_parser("env", help="print versions, device and mode")
    from genai_lab.reader.cli import add_eval_arguments  # light: argparse only

    add_eval_arguments(sub.add_parser("eval-reader", help="score the grounded reader on a SQuAD-format file"))
    args = parser.parse_args(argv)

    if args.command == "prepare-models":
        from genai_lab.models import prepare_all

        prepare_all(verbose=True)
    elif args.command == "labs":
        from genai_lab.labs import generate_labs
        from genai_lab.paths import repo_root

        root = repo_root()
        changed = generate_labs(root / "solutions", root / "labs", check_only=args.check)
        for path in changed:
            print(("stale: " if args.check else "wrote: ") + str(path.relative_to(root)))
        if args.check and changed:
            print("labs/ is out of date with solutions/: run `make labs` and commit the result.")
            return 1
        if not changed:
            print("labs/ is up to date with solutions/.")
    elif args.command == "run":
        from genai_lab.course import run_course, write_summary

        runs = run_course(args.names, in_place=args.in_place)
        summary = write_summary()
        print(f"\nExecuted notebooks: {summary.parent / 'notebooks'}")
        print(f"Summary:            {summary}  (and {summary.with_suffix('.md')})")
        failed = [r for r in runs if not r.ok]
        if failed:
            print("FAILED: " + ", ".join(f"{r.name} ({r.error})" for r in failed))
            return 1
    elif args.command == "summary":
        from genai_lab.course import write_summary

        print(write_summary())
    elif args.command == "env":
        from genai_lab.runtime import print_environment

        print_environment()
    elif args.command == "eval-reader":
        from genai_lab.reader.cli import report_eval

        return report_eval(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
