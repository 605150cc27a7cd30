"""``python -m genai_lab.app``: serve the knowledge-base chat on 127.0.0.1 (``make app``).

By default the app starts its own vLLM server (prefix caching, the course's LoRA adapters, a bounded KV
cache), waits until it is ready and stops it when the app stops; if vLLM cannot start it answers with
in-process SmolLM2 and says why (:mod:`genai_lab.app.startup`). ``--in-process`` skips vLLM;
``$GENAI_LAB_VLLM_URL(S)`` uses servers that are already running. ``/healthz`` and the page say which
backend answers. The port comes from ``--port``, else ``$GENAI_LAB_APP_PORT``, else 8000. ``--fake`` serves the
deterministic stand-in models (no model loading: instant, for demos and browser tests). Adding
documents (``POST /api/documents``) needs a token: set ``$GENAI_LAB_APP_TOKEN`` or pass
``--token-file PATH`` (a file holding it); without one, the endpoint answers 403.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_lab.app.config import TOKEN_ENV
from genai_lab.rag.llm import READER_MODEL
from genai_lab.serving.server import LOOPBACK

log = logging.getLogger("genai_lab.app")

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
    which = p.add_mutually_exclusive_group()
    which.add_argument("--fake", action="store_true",
                       help="serve fake models and hashed-word embeddings (tests, demos)")
    which.add_argument("--in-process", action="store_true",
                       help="answer with SmolLM2 in this process; do not start vLLM (the fallback, forced)")
    add("--vllm-startup-timeout", type=_number(float, 1, "--vllm-startup-timeout"), default=300.0,
        help="seconds the app's own vLLM server may take to become ready (default 300)")
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("genai_lab.app").setLevel(logging.INFO)
    return serve(args, adapters, overrides, token)


def serve(args: argparse.Namespace, adapters: dict[str, Path], overrides: dict[str, Any], token: str | None) -> int:
    """Choose the backend, start the app's own vLLM server when that is the choice, serve until SIGTERM
    or Ctrl-C, then stop the server (also when anything in between fails)."""
    import uvicorn

    from genai_lab.app.server import uvicorn_config
    from genai_lab.app.service import default_app
    from genai_lab.app.startup import bring_up_vllm, choose_backend, course_lora_modules

    choice = choose_backend(fake=args.fake, in_process=args.in_process)
    log.info("backend: %s (%s)", choice.kind, choice.reason)
    info: dict[str, Any] = {"reason": choice.reason}
    started = None
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # before uvicorn's own handlers: stop vLLM too
    try:
        if choice.kind in ("managed_vllm", "in_process"):
            modules = {**course_lora_modules(), **adapters}  # --adapter folders become LoRA modules too
            # Every module but the reader (the chat model's default already) is a per-request adapter.
            adapters = {name: path for name, path in modules.items() if name != READER_MODEL}
        if choice.kind == "managed_vllm":
            started = bring_up_vllm(modules, args.vllm_startup_timeout)
            info["vllm"] = started.health()
            if started.server is None:
                info["reason"] = started.reason
        base_url = started.server.base_url if started is not None and started.server is not None else None
        in_process = choice.kind == "in_process" or (started is not None and started.server is None)
        print(f"genai_lab.app: loading the knowledge base and the {'fake' if args.fake else 'real'} models...",
              flush=True)  # fmt: skip
        app = default_app(fake=args.fake, max_new_tokens=int(args.max_new_tokens), fake_delay=args.fake_delay,
                          adapters=adapters, overrides=overrides, base_url=base_url, in_process=in_process,
                          backend_info=info)  # fmt: skip
        if choice.kind == "vllm_urls" and app.state.models["internal"].backend != "vllm":
            app.state.backend_info["reason"] = f"{choice.reason}, but none answered: SmolLM2 in-process instead"
            log.warning("%s", app.state.backend_info["reason"])
        writes = "enabled (token set)" if token else f"disabled (set ${TOKEN_ENV} to enable)"
        print(f"genai_lab.app: serving on http://{args.host}:{args.port} with the "
              f"{app.state.models['internal'].label}  (adding documents {writes}; Ctrl-C stops it)",
              flush=True)  # fmt: skip
        # On SIGTERM, give running answers 5 s to finish, then stop (an in-process generation is not
        # interruptible, and a stopped service must not linger).
        uvicorn.Server(uvicorn_config(app, args.host, int(args.port))).run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has stopped serving; vLLM is stopped below
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if started is not None and started.server is not None:
            log.info("stopping vLLM (pid %s)", started.server.pid)
            started.server.stop()
    return 0


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM before uvicorn serves (while vLLM starts): leave through ``finally``, which stops vLLM."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
