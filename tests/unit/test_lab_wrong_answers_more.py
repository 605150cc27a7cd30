"""Labs 12, 13 and 31 (issue 17, item 7): each check passes the solution and refuses plausible wrong answers.

Same method as ``test_lab_wrong_answers.py`` (whose helpers this module uses): the solution's own cells
run in-process, first as written, then with one ``### BEGIN SOLUTION`` block replaced by a wrong
answer, and the check must fail with its ``AssertionError`` hint. The real models stay out of the unit
tier: lab 13's check runs on the tiny random Llama in place of SmolLM2, and lab 31's on random unit
vectors in place of MiniLM's; the checks that need SmolLM2 itself (lab 12's parameter counts) run in
the solution notebook (nbval) only.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from test_lab_wrong_answers import cell, with_answer


def run(*sources: str) -> dict[str, Any]:
    """Execute the cells in order in one fresh module namespace, as a notebook kernel would.

    Unlike a bare ``exec``, the cells are compiled without this file's ``from __future__ import
    annotations`` (``dont_inherit``) and run in a module registered in ``sys.modules``, so that a
    lab's dataclass is built exactly as in the notebook."""
    module = types.ModuleType("__lab__")
    sys.modules[module.__name__] = module
    try:
        for number, source in enumerate(sources):
            exec(compile(source, f"<lab cell {number}>", "exec", dont_inherit=True), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.__dict__

# --------------------------------------------------------------------------------------------------
# Lab 12: counting trainable parameters, the held-out split, the fair ranking
# --------------------------------------------------------------------------------------------------
LAB12 = "12_peft_fair_comparison.ipynb"

COUNT_WRONG = {
    "every parameter": "return sum(p.numel() for p in model.parameters())",
    "the adapter's weights only, not the head": (
        'return sum(p.numel() for name, p in model.named_parameters() if "lora_" in name)'
    ),
}
CARVE_WRONG = {
    "the last lines of the file": """
        cut = round(fraction * len(examples))
        return examples[:-cut], examples[-cut:]
        """,
    "shuffled but not stratified": """
        rng = random.Random(seed)
        shuffled = list(examples)
        rng.shuffle(shuffled)
        cut = round(fraction * len(shuffled))
        return shuffled[cut:], shuffled[:cut]
        """,
    "held out but still trained on": """
        rng = random.Random(seed)
        held_out = []
        for label in sorted({e.label for e in examples}):
            group = [e for e in examples if e.label == label]
            held_out += rng.sample(group, round(fraction * len(group)))
        return list(examples), held_out
        """,
    "each label split in file order": """
        train_part, held_out = [], []
        for label in sorted({e.label for e in examples}):
            group = [e for e in examples if e.label == label]
            cut = round(fraction * len(group))
            held_out += group[:cut]
            train_part += group[cut:]
        return train_part, held_out
        """,
    "no check of the fraction": """
        rng = random.Random(seed)
        train_part, held_out = [], []
        for label in sorted({e.label for e in examples}):
            group = [e for e in examples if e.label == label]
            rng.shuffle(group)
            cut = round(fraction * len(group))
            held_out += group[:cut]
            train_part += group[cut:]
        return train_part, held_out
        """,
}
RANKING_WRONG = {
    "learning rate chosen on dev": """
        best = {}
        for run in runs:
            if run.method not in best or run.dev_accuracy > best[run.method].dev_accuracy:
                best[run.method] = run
        return sorted(best.values(), key=lambda r: r.dev_accuracy, reverse=True)
        """,
    "ranked by the held-out split": """
        if not runs or len({r.steps for r in runs}) > 1:
            raise ValueError(f"budgets {sorted({r.steps for r in runs})}")
        best = {}
        for run in runs:
            kept = best.get(run.method)
            if kept is None or (run.held_out_accuracy, -run.lr) > (kept.held_out_accuracy, -kept.lr):
                best[run.method] = run
        return sorted(best.values(), key=lambda r: r.held_out_accuracy, reverse=True)
        """,
    "a tie goes to the larger rate": """
        if not runs or len({r.steps for r in runs}) > 1:
            raise ValueError(f"budgets {sorted({r.steps for r in runs})}")
        best = {}
        for run in runs:
            if run.method not in best or run.held_out_accuracy >= best[run.method].held_out_accuracy:
                best[run.method] = run
        return sorted(best.values(), key=lambda r: r.dev_accuracy, reverse=True)
        """,
    "budgets not compared": """
        if not runs:
            raise ValueError("no runs")
        best = {}
        for run in runs:
            kept = best.get(run.method)
            if kept is None or (run.held_out_accuracy, -run.lr) > (kept.held_out_accuracy, -kept.lr):
                best[run.method] = run
        return sorted(best.values(), key=lambda r: r.dev_accuracy, reverse=True)
        """,
}


def lab12(function: str | None = None, answer: str = "") -> dict[str, Any]:
    """Lab 12's pure exercises and their checks (the SmolLM2 check cell is left out)."""
    count = cell(LAB12, "def trainable_parameters")
    carve = cell(LAB12, "def carve_held_out")
    ranking = cell(LAB12, "def fair_ranking")
    if function == "trainable_parameters":
        count = with_answer(count, function, answer)
    elif function == "carve_held_out":
        carve = with_answer(carve, function, answer)
    elif function == "fair_ranking":
        ranking = with_answer(ranking, function, answer)
    return run(
        cell(LAB12, "seed_everything(0)"),
        count,
        cell(LAB12, 'modules_to_save=["4"]'),
        carve,
        cell(LAB12, "skewed = "),
        ranking,
        cell(LAB12, 'Run("lora", 1e-4'),
    )


def test_lab12_checks_pass_the_solution():
    lab = lab12()
    assert lab["got"] == 140 + 42
    assert [r.method for r in lab["ranking"]] == ["adapter", "lora", "ia3", "prompt"]


@pytest.mark.parametrize("wrong", COUNT_WRONG, ids=list(COUNT_WRONG))
def test_lab12_count_check_refuses(wrong):
    with pytest.raises(AssertionError, match="requires_grad|modules_to_save"):
        lab12("trainable_parameters", COUNT_WRONG[wrong])


@pytest.mark.parametrize("wrong", CARVE_WRONG, ids=list(CARVE_WRONG))
def test_lab12_held_out_check_refuses(wrong):
    with pytest.raises(AssertionError):
        lab12("carve_held_out", CARVE_WRONG[wrong])


@pytest.mark.parametrize("wrong", RANKING_WRONG, ids=list(RANKING_WRONG))
def test_lab12_ranking_check_refuses(wrong):
    with pytest.raises(AssertionError):
        lab12("fair_ranking", RANKING_WRONG[wrong])


# --------------------------------------------------------------------------------------------------
# Lab 13: the memory sum, two adapters on one base switched per request
# --------------------------------------------------------------------------------------------------
LAB13 = "13_adapter_switching.ipynb"
# SmolLM2 and its tokenizer replaced by the tiny random Llama and token ids.
TINY_BASE = """
from genai_lab.models import tiny_llama

base = tiny_llama()
TASKS = ("support", "legal")
prompt_ids = [torch.tensor([1, 5, 9, 13, 4]), torch.tensor([1, 7, 3, 22])]
"""
MEMORY_WRONG = {
    "the base forgotten": """
        return {"full_copies": n_tasks * base_bytes, "one_base_plus_adapters": n_tasks * adapter_bytes}
        """,
    "a base per task": """
        return {"full_copies": n_tasks * base_bytes,
                "one_base_plus_adapters": n_tasks * (base_bytes + adapter_bytes)}
        """,
    "no check of the input": """
        return {"full_copies": n_tasks * base_bytes, "one_base_plus_adapters": base_bytes + n_tasks * adapter_bytes}
        """,
}
SERVING_WRONG = {
    "two identical adapters": (
        "attach_adapters",
        """
        config = LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        torch.manual_seed(seed)
        model = get_peft_model(base, config, adapter_name=tasks[0])
        for task in tasks[1:]:
            torch.manual_seed(seed)
            model.add_adapter(task, config)
        return model.eval()
        """,
    ),
    "never switches": (
        "serve",
        """
        with torch.inference_mode():
            return [model(input_ids=ids[None]).logits[0, -1].clone() for _, ids in requests]
        """,
    ),
    "merges to serve": (
        "serve",
        """
        outputs = []
        with torch.inference_mode():
            for task, ids in requests:
                model.set_adapter(task)
                model.merge_adapter()
                outputs.append(model(input_ids=ids[None]).logits[0, -1].clone())
        return outputs
        """,
    ),
}


def lab13_memory(answer: str | None = None) -> dict[str, Any]:
    source = cell(LAB13, "def serving_bytes")
    if answer is not None:
        source = with_answer(source, "serving_bytes", answer)
    return run(source, cell(LAB13, "serving_bytes(base_bytes=500"))


def lab13_serving(function: str | None = None, answer: str = "") -> dict[str, Any]:
    functions = cell(LAB13, "def attach_adapters")
    if function is not None:
        functions = with_answer(functions, function, answer)
    return run(
        cell(LAB13, "seed_everything(0)"),
        TINY_BASE,
        cell(LAB13, "frozen = {"),
        functions,
        cell(LAB13, "model = attach_adapters(base, TASKS"),
    )


def test_lab13_checks_pass_the_solution():
    assert lab13_memory()["got"]["one_base_plus_adapters"] == 520
    lab = lab13_serving()
    assert len(lab["out"]) == 5 and set(lab["model"].peft_config) == {"support", "legal"}


@pytest.mark.parametrize("wrong", MEMORY_WRONG, ids=list(MEMORY_WRONG))
def test_lab13_memory_check_refuses(wrong):
    with pytest.raises(AssertionError):
        lab13_memory(MEMORY_WRONG[wrong])


@pytest.mark.parametrize("wrong", SERVING_WRONG, ids=list(SERVING_WRONG))
def test_lab13_serving_check_refuses(wrong):
    function, answer = SERVING_WRONG[wrong]
    with pytest.raises(AssertionError):
        lab13_serving(function, answer)


# --------------------------------------------------------------------------------------------------
# Lab 31: cosine top-k, Recall@k, the IVF curve
# --------------------------------------------------------------------------------------------------
LAB31 = "31_cosine_topk_and_ivf_recall.ipynb"
# MiniLM's embeddings replaced by random unit vectors, and the IVF database made smaller (5,000 vectors
# instead of 20,000) to keep the unit tier fast; the check cells are the solution's own.
RANDOM_VECTORS = """
rng = np.random.default_rng(1)
doc_vectors = rng.normal(size=(300, 384)).astype(np.float32)
doc_vectors /= np.linalg.norm(doc_vectors, axis=1, keepdims=True)
query_vectors = rng.normal(size=(60, 384)).astype(np.float32)
query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
"""
SMALL_DATABASE = """
from genai_lab.rag.vector_search import synthetic_like

database = np.concatenate([doc_vectors, synthetic_like(doc_vectors, 5_000 - len(doc_vectors), seed=0)])
"""
TOP_K_WRONG = {
    "no normalisation": """
        sims = queries @ docs.T
        ids = np.argsort(-sims, axis=1)[:, :k]
        return np.take_along_axis(sims, ids, axis=1), ids
        """,
    "worst first": """
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
        sims = q @ d.T
        ids = np.argsort(sims, axis=1)[:, -k:]
        return np.take_along_axis(sims, ids, axis=1), ids
        """,
    "top k found but not sorted": """
        if not 1 <= k <= len(docs):
            raise ValueError(f"k={k}")
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        d = docs / np.linalg.norm(docs, axis=1, keepdims=True)
        sims = q @ d.T
        ids = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return np.take_along_axis(sims, ids, axis=1), ids
        """,
    "queries normalised, documents not": """
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        sims = q @ docs.T
        ids = np.argsort(-sims, axis=1)[:, :k]
        return np.take_along_axis(sims, ids, axis=1), ids
        """,
}
RECALL_WRONG = {
    "rank by rank": "return float(np.mean(exact_ids[:, :k] == approx_ids[:, :k]))",
    "pooled over the queries": """
        pooled = set(exact_ids[:, :k].ravel().tolist()) & set(approx_ids[:, :k].ravel().tolist())
        return len(pooled) / exact_ids[:, :k].size
        """,
    "only the exact list cut at k": """
        return float(np.mean([len(set(e[:k].tolist()) & set(a.tolist())) / k
                              for e, a in zip(exact_ids, approx_ids, strict=True)]))
        """,
}
IVF_WRONG = {
    "nprobe never set": """
        dim = database.shape[1]
        exact = faiss.IndexFlatIP(dim)
        exact.add(database)
        _, exact_ids = exact.search(queries, k)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(database)
        index.add(database)
        return {nprobe: recall_at_k(exact_ids, index.search(queries, k)[1], k) for nprobe in nprobes}
        """,
    "measured against itself": """
        dim = database.shape[1]
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(database)
        index.add(database)
        curve = {}
        for nprobe in nprobes:
            index.nprobe = nprobe
            ids = index.search(queries, k)[1]
            curve[nprobe] = recall_at_k(ids, ids, k)
        return curve
        """,
}


def lab31(function: str | None = None, answer: str = "", ivf_part: bool = True) -> dict[str, Any]:
    """Lab 31's cells on random vectors; ``ivf_part=False`` stops after the Recall@k check."""
    top_k = cell(LAB31, "def cosine_top_k")
    recall = cell(LAB31, "def recall_at_k")
    ivf = cell(LAB31, "def ivf_recall")
    if function == "cosine_top_k":
        top_k = with_answer(top_k, function, answer)
    elif function == "recall_at_k":
        recall = with_answer(recall, function, answer)
    elif function == "ivf_recall":
        ivf = with_answer(ivf, function, answer)
    sources = [
        cell(LAB31, "K = 10"),
        RANDOM_VECTORS,
        top_k,
        cell(LAB31, "docs = np.array([[1, 0]"),
        cell(LAB31, "flat = faiss.IndexFlatIP"),
        recall,
        cell(LAB31, "exact = np.array([[1, 2, 3, 4]"),
    ]
    if ivf_part:
        assert "synthetic_like(doc_vectors" in cell(LAB31, "database = np.concatenate"), "the lab's database changed"
        sources += [SMALL_DATABASE, ivf, cell(LAB31, "NLIST = 32")]
    return run(*sources)


def test_lab31_checks_pass_the_solution():
    lab = lab31()
    assert lab["curve"][32] > 0.99 > lab["curve"][1]


@pytest.mark.parametrize("wrong", TOP_K_WRONG, ids=list(TOP_K_WRONG))
def test_lab31_top_k_check_refuses(wrong):
    with pytest.raises(AssertionError):
        lab31("cosine_top_k", TOP_K_WRONG[wrong], ivf_part=False)


@pytest.mark.parametrize("wrong", RECALL_WRONG, ids=list(RECALL_WRONG))
def test_lab31_recall_check_refuses(wrong):
    with pytest.raises(AssertionError):
        lab31("recall_at_k", RECALL_WRONG[wrong], ivf_part=False)


@pytest.mark.parametrize("wrong", IVF_WRONG, ids=list(IVF_WRONG))
def test_lab31_ivf_check_refuses(wrong):
    with pytest.raises(AssertionError, match="nprobe|IndexFlatIP"):
        lab31("ivf_recall", IVF_WRONG[wrong])
