"""Per-request LoRA adapters on one base model: the lesson of notebook 13, inside the service.

An adapter is a PEFT LoRA folder (``model.save_pretrained(path)`` of a ``peft`` model, as in Part 1).
``python -m genai_lab.app --adapter NAME=PATH`` loads it, and a request with ``"adapter": "NAME"``
is answered by the base model with that adapter switched on; every other request by the plain base.

- In-process (transformers): :class:`AdapterSwitch` loads the adapters into the one base model
  (``PeftModel.from_pretrained`` injects the LoRA layers in place, so the text-generation pipeline
  that holds the model sees them) and switches per request under a lock: ``set_adapter(name)`` for
  an adapter request, ``disable_adapter()`` for a plain one. :func:`switched` wraps a chat model so
  that each streamed answer holds the switch for its whole generation. One in-process model answers
  one request at a time anyway (the service's ``max_concurrency=1``).
- With a vLLM server: vLLM does the switching itself (``--enable-lora --lora-modules NAME=PATH``) and a
  request selects the adapter by using its name as the model name, so the slot is just
  ``get_chat_model(backend="vllm", model=NAME)``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


class AdapterSwitch:
    """One PEFT model with named LoRA adapters, switched per request under a lock."""

    def __init__(self, peft_model: Any) -> None:
        self.model = peft_model
        self.lock = threading.Lock()

    @classmethod
    def load(cls, base_model: Any, adapters: Mapping[str, str | Path]) -> AdapterSwitch:
        """Load each ``name: folder`` LoRA adapter onto ``base_model`` (modified in place)."""
        from peft import PeftModel

        if not adapters:
            raise ValueError("AdapterSwitch.load needs at least one adapter: {'name': '/path/to/lora'}.")
        for name, path in adapters.items():
            if not (Path(path) / "adapter_config.json").is_file():
                raise FileNotFoundError(
                    f"Adapter {name!r}: no adapter_config.json in {path}. Save a LoRA adapter there with "
                    "`peft_model.save_pretrained(path)` (Part 1, notebook 13)."
                )
        (first, first_path), *rest = adapters.items()
        peft_model = PeftModel.from_pretrained(base_model, str(first_path), adapter_name=first)
        for name, path in rest:
            peft_model.load_adapter(str(path), adapter_name=name)
        peft_model.eval()
        return cls(peft_model)

    @property
    def names(self) -> list[str]:
        return sorted(self.model.peft_config)

    @contextlib.contextmanager
    def use(self, name: str | None) -> Iterator[None]:
        """Hold the model with adapter ``name`` active (``None``: the plain base model)."""
        if name is not None and name not in self.model.peft_config:
            raise KeyError(f"Unknown adapter {name!r}; loaded: {', '.join(self.names)}.")
        with self.lock:
            if name is None:
                with self.model.disable_adapter():
                    yield
            else:
                self.model.set_adapter(name)
                yield


def switched(chat: Any, switch: AdapterSwitch, name: str | None) -> Any:
    """``chat`` as a runnable that streams with ``switch.use(name)`` held for the whole answer."""
    from langchain_core.runnables import RunnableGenerator

    def transform(inputs: Iterator[Any]) -> Iterator[Any]:
        with switch.use(name):
            yield from chat.transform(inputs)

    return RunnableGenerator(transform, name=f"adapter:{name or 'base'}")


def parse_adapter_args(values: list[str]) -> dict[str, Path]:
    """``["style=/path/a", ...]`` -> ``{"style": Path("/path/a")}``, with a clear error otherwise."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"--adapter {value!r}: write NAME=PATH, e.g. --adapter sentiment=build/lora/sentiment.")
        out[name.strip()] = Path(path.strip()).expanduser()
    return out
