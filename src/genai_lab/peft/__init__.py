"""Part 1: parameter-efficient fine-tuning, from scratch and with Hugging Face ``peft``.

- :mod:`genai_lab.peft.memory`   the memory arithmetic of full fine-tuning vs PEFT
- :mod:`genai_lab.peft.lora`     ``LoRALinear`` with merge/unmerge, injected by module name
- :mod:`genai_lab.peft.adapters` the Houlsby bottleneck adapter
- :mod:`genai_lab.peft.prompts`  prompt tuning and prefix tuning (with the reparameterisation MLP)
- :mod:`genai_lab.peft.data`     SST-2 loading and length-bucketed batches
- :mod:`genai_lab.peft.train`    the shared training loop, evaluation, zero-shot, memory probe
- :mod:`genai_lab.peft.methods`  every method of the SST-2 comparison, configured once
- :mod:`genai_lab.peft.common`   counting, freezing, saving and loading trainable weights
- :mod:`genai_lab.peft.fair`     the fair comparison: equal step budget, learning rate chosen on a tuning split
- :mod:`genai_lab.peft.scope`    SST-2 figures or a smoke test on the fallback set: keys and bar verdicts
- :mod:`genai_lab.peft.comparison_plots` accuracy against trainable parameters, learning curves
"""
