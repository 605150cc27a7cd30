"""One function for the chat model behind the RAG chains: :func:`get_chat_model`.

Two backends, both returning a LangChain chat model, so that a chain never knows which one it got:

- ``"vllm"``: ``ChatOpenAI`` pointed at a local vLLM server's OpenAI-compatible API (Part 2b), e.g.
  started with ``python -m vllm.entrypoints.openai.api_server --model <prepare_smollm2()> ...``.
  The URL comes from ``base_url`` or ``$GENAI_LAB_VLLM_URL`` (``http://127.0.0.1:8000`` or
  ``http://127.0.0.1:8000/v1``); the served model's name is read from its ``/v1/models``.
- ``"transformers"``: SmolLM2-135M-Instruct in this process, through a ``transformers`` text-generation
  pipeline wrapped by ``langchain_huggingface`` (``HuggingFacePipeline`` + ``ChatHuggingFace``, which
  applies the model's chat template).

``backend="auto"`` (the default) uses the server when a URL is given and answers, else transformers.
Decoding is greedy (temperature 0) on both, so answers are reproducible.

**The reader.** By default the model is SmolLM2 *with the course's grounded-reader LoRA adapter*
(``data/reader/adapter``, trained in notebook 35 with the seed's ``LoraConfig``): it answers from the
passages, cites them and abstains. ``reader="base"`` gives the plain SmolLM2, for the comparison;
``reader=PATH`` another adapter. In process the adapter is loaded through ``peft``
(``PeftModel.from_pretrained``) and merged into the weights; a vLLM server serves it as a LoRA module
(``--enable-lora --lora-modules reader=PATH``) and the chat model asks for the model named ``reader``.
The returned chat model says which it got in ``.reader`` (``"reader"`` or ``"base"``).

**When to abstain.** An adapter folder may hold the abstention bias tuned for it on the dev split
(``reader_decoding.json``, :mod:`genai_lab.reader.calibrate`). Both backends apply it the same way:
``sequence_bias`` on the generation config in process, ``logit_bias`` in the request to vLLM. The base
model gets none.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models.chat_models import BaseChatModel

VLLM_URL_ENV = "GENAI_LAB_VLLM_URL"
BACKENDS = ("auto", "transformers", "vllm")
READER_MODEL = "reader"  # the LoRA module name a vLLM server gives the reader adapter


def reader_adapter(reader: str | Path | None = "auto") -> Path | None:
    """The adapter folder ``reader`` names: ``"auto"`` the course's trained reader when it is there
    (with a warning, naming the fix, when it is not), ``"base"`` or None no adapter, a path that adapter
    (which must exist)."""
    from genai_lab.reader.train import adapter_dir

    if reader is None or reader == "base":
        return None
    if reader == "auto":
        path = adapter_dir()
        if (path / "adapter_config.json").is_file():
            return path
        warnings.warn(
            f"No trained reader adapter at {path}; using the base SmolLM2. Train it with "
            "`python -m genai_lab.reader train` (notebook 35), or pass reader='base' to silence this.",
            stacklevel=3,
        )
        return None
    path = Path(reader)
    if not (path / "adapter_config.json").is_file():
        raise FileNotFoundError(f"No peft adapter at {path} (no adapter_config.json); pass a save_pretrained folder.")
    return path


def openai_base_url(url: str) -> str:
    """Normalise a server URL to the OpenAI API root: ``http://host:port/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def served_models(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """The model names an OpenAI-compatible server serves, or ``None`` when it does not answer."""
    try:
        with urllib.request.urlopen(f"{openai_base_url(base_url)}/models", timeout=timeout) as resp:
            payload = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return [m["id"] for m in payload.get("data", []) if "id" in m]


def get_chat_model(
    backend: str = "auto",
    base_url: str | None = None,
    max_new_tokens: int = 128,
    model: str | None = None,
    reader: str | Path | None = "auto",
) -> BaseChatModel:
    """A LangChain chat model for SmolLM2: the vLLM server if reachable, else in-process transformers.

    ``backend``: "auto", "vllm" or "transformers". ``base_url`` (or ``$GENAI_LAB_VLLM_URL``) is the
    vLLM server; ``model`` overrides the served model name. ``max_new_tokens`` bounds each answer.
    ``reader``: the grounded-reader adapter (see the module docstring); ``"base"`` for plain SmolLM2.
    The returned object has ``.backend`` set to the backend actually used and ``.reader`` to
    ``"reader"`` or ``"base"``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    base_url = base_url or os.environ.get(VLLM_URL_ENV)
    if backend in ("auto", "vllm") and base_url:
        names = served_models(base_url)
        if names:
            if model is None and reader == "auto" and READER_MODEL in names:
                model = READER_MODEL
            elif model is None and reader not in (None, "auto", "base"):
                warnings.warn(
                    f"A vLLM server serves only the LoRA modules it was started with, not {reader}; start it "
                    "with --enable-lora --lora-modules NAME=PATH and pass model=NAME. Using its base model.",
                    stacklevel=2,
                )
            return _openai_chat(base_url, model or names[0], max_new_tokens)
        if backend == "vllm":
            raise ConnectionError(
                f"No OpenAI-compatible server answers at {openai_base_url(base_url)}/models. Start one, "
                "e.g. `python -m vllm.entrypoints.openai.api_server --model "
                "$(python -c 'from genai_lab.models import prepare_smollm2; print(prepare_smollm2())') "
                "--dtype float32 --enforce-eager --host 127.0.0.1 --port 8000`, or use backend='transformers'."
            )
    elif backend == "vllm":
        raise ValueError(
            f"backend='vllm' needs the server's URL: pass base_url=... or set ${VLLM_URL_ENV}."
        )
    return _transformers_chat(max_new_tokens, reader_adapter(reader))


def _openai_chat(base_url: str, model: str, max_new_tokens: int) -> BaseChatModel:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from genai_lab.reader.calibrate import logit_bias
    from genai_lab.reader.train import adapter_dir

    settings: dict[str, Any] = {  # field names as ChatOpenAI documents them (some are aliases)
        "model": model,
        "base_url": openai_base_url(base_url),
        "api_key": SecretStr("EMPTY"),  # vLLM does not check it unless started with --api-key
        "temperature": 0.0,
        "max_tokens": max_new_tokens,
        "timeout": 120,
        "max_retries": 1,
    }
    # The served LoRA module `reader` is the course's adapter: its tuned abstention bias, in the request
    # body (ChatOpenAI's own logit_bias field takes whole numbers only; vLLM takes floats).
    bias = logit_bias(adapter_dir()) if model == READER_MODEL else {}
    if bias:
        settings["extra_body"] = {"logit_bias": bias}
    chat = ChatOpenAI(**settings)
    object.__setattr__(chat, "backend", "vllm")
    object.__setattr__(chat, "reader", "reader" if model == READER_MODEL else "base")
    return chat


def _transformers_chat(max_new_tokens: int, adapter: Path | None = None) -> BaseChatModel:
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    from transformers import pipeline

    from genai_lab.models import load_smollm2, prepare_smollm2

    model: Any
    tokenizer: Any
    model, tokenizer = load_smollm2()
    if adapter is not None:  # through peft, then folded into the weights: W + BA, as notebook 10 shows
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().eval()
    # Greedy decoding, set once on the generation config (not as pipeline kwargs, which transformers
    # would merge with the model's sampling defaults and warn about).
    gen = model.generation_config
    gen.do_sample, gen.temperature, gen.top_p, gen.top_k = False, None, None, None
    gen.max_new_tokens, gen.max_length = max_new_tokens, None
    gen.pad_token_id = tokenizer.eos_token_id
    if adapter is not None:  # the abstention bias tuned for this adapter, if any (module docstring)
        from genai_lab.reader.calibrate import bias_kwargs, load_bias

        gen.sequence_bias = bias_kwargs(tokenizer, load_bias(adapter)).get("sequence_bias")
    tokenizer.clean_up_tokenization_spaces = False  # a BPE tokenizer: keep spaces as generated
    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, return_full_text=False)
    path = str(prepare_smollm2())
    llm = HuggingFacePipeline(pipeline=pipe, model_id=path)
    chat = ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=path)
    object.__setattr__(chat, "backend", "transformers")
    object.__setattr__(chat, "reader", "base" if adapter is None else "reader")
    return chat
