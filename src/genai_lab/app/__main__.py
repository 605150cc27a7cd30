"""``python -m genai_lab.app``: serve the knowledge-base chat on 127.0.0.1 (``make app``).

The port comes from ``--port``, else ``$GENAI_LAB_APP_PORT``, else 8000. ``--fake`` serves the
deterministic stand-in models (no model loading: instant, for demos and browser tests). Adding
documents (``POST /api/documents``) needs a token: set ``$GENAI_LAB_APP_TOKEN`` or pass
``--token-file PATH`` (a file holding it); without one, the endpoint answers 403.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from genai_lab.app.config import TOKEN_ENV
from genai_lab.serving.server import LOOPBACK

PORT_ENV = "GENAI_LAB_APP_PORT"


def _number(kind: Callable[[str], float], low: float, what: str) -> Callable[[str], float]:
    """An argparse type: ``kind(value) >= low``, else a clear error (argparse prints it and exits 2)."""

    def parse(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not number >= low:
            raise argparse.ArgumentTypeError(f"{value} is not allowed: {what} must be >= {low:g}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m genai_lab.app", description=(__doc__ or "").splitlines()[0])
    add = p.add_argument
    add("--port", type=_number(int, 1, "the port"), default=int(os.environ.get(PORT_ENV, "8000")),
        help=f"port (default ${PORT_ENV} or 8000)")
    add("--host", default=LOOPBACK, help="interface (default 127.0.0.1: this machine only)")
    add("--allowed-host", action="append", default=[], metavar="HOST",
        help="another Host header to accept (default: 127.0.0.1, localhost and --host); repeatable")
    add("--fake", action="store_true", help="serve fake models and hashed-word embeddings (tests, demos)")
    add("--fake-delay", type=_number(float, 0, "--fake-delay"), default=0.0,
        help="seconds per streamed word of the fake model (>= 0)")
    add("--max-new-tokens", type=_number(int, 1, "--max-new-tokens"), default=64,
        help="answer length bound (default 64)")
    add("--max-concurrency", type=_number(int, 1, "--max-concurrency"), default=None,
        help="answers generated at once (default by backend: 1 in-process, 8 with vLLM)")
    add("--max-queue", type=_number(int, 0, "--max-queue"), default=None,
        help="requests that may wait for a slot (default by backend: 16 in-process, 32 with vLLM)")
    add("--token-file", type=Path, default=None,
        help=f"file holding the token that POST /api/documents requires (default ${TOKEN_ENV})")
    add("--adapter", action="append", default=[], metavar="NAME=PATH",
        help="a LoRA adapter folder served per request as NAME (repeatable)")
    add("--torch-threads", type=_number(int, 1, "--torch-threads"),
        default=int(os.environ.get("GENAI_LAB_APP_THREADS", "1")),
        help="PyTorch threads for an in-process model (default 1, see below)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from genai_lab.app.adapters import parse_adapter_args
    from genai_lab.app.config import default_hosts

    try:
        adapters = parse_adapter_args(args.adapter)
    except ValueError as exc:
        parser.error(str(exc))
    token = os.environ.get(TOKEN_ENV) or None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            parser.error(f"--token-file {args.token_file}: {exc.strerror}")
    if token is not None and len(token) < 8:
        parser.error(f"the write token ({TOKEN_ENV} or --token-file) must have at least 8 characters")
    overrides = {
        "max_concurrency": args.max_concurrency, "max_queue": args.max_queue, "write_token": token,
        "allowed_hosts": (*default_hosts(args.host), *args.allowed_host),
    }  # fmt: skip

    # One thread for the in-process model leaves the other core to the HTTP server, the tokenizer and
    # the query embeddings, and avoids the collapse of PyTorch's OpenMP threads when another process
    # competes for the cores (measured here: with 2 threads and a busy neighbour, four answers took
    # over 5 minutes instead of 12 s).
    import torch

    torch.set_num_threads(int(args.torch_threads))

    import uvicorn

    from genai_lab.app.server import uvicorn_config
    from genai_lab.app.service import default_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("genai_lab.app").setLevel(logging.INFO)
    print(f"genai_lab.app: loading the knowledge base and the {'fake' if args.fake else 'real'} models...", flush=True)
    app = default_app(fake=args.fake, max_new_tokens=int(args.max_new_tokens), fake_delay=args.fake_delay,
                      adapters=adapters, overrides=overrides)  # fmt: skip
    writes = "enabled (token set)" if token else f"disabled (set ${TOKEN_ENV} to enable)"
    print(f"genai_lab.app: serving on http://{args.host}:{args.port}  (adding documents {writes}; Ctrl-C stops it)",
          flush=True)  # fmt: skip
    # On SIGTERM, give running answers 5 s to finish, then stop (an in-process generation is not
    # interruptible, and a stopped service must not linger).
    uvicorn.Server(uvicorn_config(app, args.host, int(args.port))).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
