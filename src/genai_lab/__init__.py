"""GenAI Service Lab: the helper package behind the course notebooks.

Modules, by topic:

- :mod:`genai_lab.paths`    where the repository, data, results, cache and benchmarks live
- :mod:`genai_lab.runtime`  the fast-mode switch, device and seed handling, the version report
- :mod:`genai_lab.models`   the offline model registry (SmolLM2, MiniLM, tiny test models)
- :mod:`genai_lab.results`  the results recorder behind ``results/*.json``
- :mod:`genai_lab.labs`     generating ``labs/`` from ``solutions/``
- :mod:`genai_lab.course`   running the course headless and writing the ``build/`` summary

Heavy libraries (torch, transformers, ...) are imported inside the functions that need them, so
``import genai_lab`` stays fast.
"""

from genai_lab.runtime import FAST, by_mode, fast_mode, get_device, seed_everything

__all__ = ["FAST", "by_mode", "fast_mode", "get_device", "seed_everything"]
__version__ = "0.1.0"
