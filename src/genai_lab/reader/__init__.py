"""The grounded reader (issue 12): SmolLM2-135M-Instruct with the course's seed LoRA configuration,
trained to answer from the RAG chain's numbered passages, cite them, and say "I don't know".

* :mod:`genai_lab.reader.data`: an example, the chain's prompt through the chat template, the loss mask;
* :mod:`genai_lab.reader.squad`: SQuAD-format files and the split of SQuAD 2.0 by article;
* :mod:`genai_lab.reader.kb`: knowledge-base examples (distractors, citations, abstention, versions);
* :mod:`genai_lab.reader.train`: the LoRA training loop;
* :mod:`genai_lab.reader.evaluate`: greedy answers, SQuAD 2.0 scores, the faithfulness check;
* ``python -m genai_lab.reader eval --squad FILE [--limit N] [--base | --adapter PATH]``.
"""
