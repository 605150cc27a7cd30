"""``python -m genai_lab.app``: serve the knowledge-base chat on 127.0.0.1 (``make app``).

The port comes from ``--port``, else ``$GENAI_LAB_APP_PORT``, else 8000. ``--fake`` serves the
deterministic stand-in models (no model loading: instant, for demos and browser tests).
"""

from __future__ import annotations

import argparse
import os
import sys

from genai_lab.serving.server import LOOPBACK

PORT_ENV = "GENAI_LAB_APP_PORT"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genai_lab.app", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get(PORT_ENV, "8000")), help=f"port (default ${PORT_ENV} or 8000)")
    parser.add_argument("--host", default=LOOPBACK, help="interface (default 127.0.0.1: this machine only)")
    parser.add_argument("--fake", action="store_true", help="serve fake models and hashed-word embeddings (tests, demos)")
    parser.add_argument("--fake-delay", type=float, default=0.0, help="seconds per streamed word of the fake model")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="answer length bound (default 64)")
    parser.add_argument("--max-concurrency", type=int, default=None, help="answers generated at once (default 1 in-process, 8 with vLLM)")
    parser.add_argument("--max-queue", type=int, default=None, help="requests that may wait for a slot (default 16 in-process, 32 with vLLM)")
    parser.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                        help="a LoRA adapter folder served per request as NAME (repeatable)")
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("GENAI_LAB_APP_THREADS", "1")),
                        help="PyTorch threads for an in-process model (default 1, see below)")
    args = parser.parse_args(argv)

    # One thread for the in-process model leaves the other core to the HTTP server, the tokenizer and
    # the query embeddings, and avoids the collapse of PyTorch's OpenMP threads when another process
    # competes for the cores (measured here: with 2 threads and a busy neighbour, four answers took
    # over 5 minutes instead of 12 s).
    import torch

    torch.set_num_threads(max(1, args.torch_threads))

    import uvicorn

    from genai_lab.app.adapters import parse_adapter_args
    from genai_lab.app.service import AppConfig, default_app

    try:
        adapters = parse_adapter_args(args.adapter)
    except ValueError as exc:
        parser.error(str(exc))

    config = None
    if args.max_concurrency is not None or args.max_queue is not None:
        config = AppConfig(max_concurrency=args.max_concurrency or 1, max_queue=16 if args.max_queue is None else args.max_queue)
    print(f"genai_lab.app: loading the knowledge base and the {'fake' if args.fake else 'real'} models...", flush=True)
    app = default_app(fake=args.fake, max_new_tokens=args.max_new_tokens, config=config, fake_delay=args.fake_delay, adapters=adapters)
    print(f"genai_lab.app: serving on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    # On SIGTERM, give running answers 5 s to finish, then stop (an in-process generation is not
    # interruptible, and a stopped service must not linger).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
