"""Part 2: serving. The KV cache, PagedAttention and continuous batching built small (2a); vLLM,
its benchmarks, quantization and multi-LLM routing (2b)."""
