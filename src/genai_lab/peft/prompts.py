"""Prompt tuning and prefix tuning from scratch.

- **Prompt tuning** (Lester et al. 2021): ``n`` trainable vectors are prepended to the input
  embeddings; the model itself stays frozen. Initialising them from the embeddings of a text such as
  "Classify the sentiment" starts training from a sensible prompt.
- **Prefix tuning** (Li & Liang 2021): trainable keys and values are prepended in *every* layer,
  through the model's key/value cache, so each layer attends to ``n`` extra positions. The prefix is
  produced by a reparameterisation MLP (embedding -> Linear -> tanh -> Linear), which the paper found
  to train more stably than learning the keys and values directly.

Both wrap a Hugging Face causal-LM or sequence-classification model and follow ``peft``'s layout
(``PromptEmbedding`` and ``PrefixEncoder``), so the same weights give the same outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from genai_lab.serving.kv_cache import attention_shape

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def _check_virtual_tokens(n: int) -> None:
    if n < 1:
        raise ValueError(
            f"num_virtual_tokens must be at least 1, got {n}: with no virtual tokens there is nothing "
            "to train. Typical values are 8 to 32."
        )


def _extend(attention_mask: torch.Tensor | None, n: int, batch: int, like: torch.Tensor) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    ones = torch.ones(batch, n, dtype=attention_mask.dtype, device=attention_mask.device)
    return torch.cat([ones, attention_mask], dim=1)


class PromptTuning(nn.Module):
    """A frozen model behind ``num_virtual_tokens`` trainable input embeddings."""

    def __init__(
        self,
        model: PreTrainedModel,
        num_virtual_tokens: int = 16,
        init_text: str | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        trainable: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        _check_virtual_tokens(num_virtual_tokens)
        self.model = model
        self.num_virtual_tokens = num_virtual_tokens
        embed = cast(nn.Embedding, model.get_input_embeddings())
        for name, p in model.named_parameters():
            p.requires_grad_(any(t in name for t in trainable))
        if init_text is not None:
            if tokenizer is None:
                raise ValueError("init_text needs the tokenizer to turn the text into token ids.")
            ids = tokenizer(init_text, add_special_tokens=False)["input_ids"]
            ids = (ids * (num_virtual_tokens // max(len(ids), 1) + 1))[:num_virtual_tokens]
        else:  # embeddings of random vocabulary tokens: the right scale, unlike N(0, 1)
            ids = torch.randint(0, embed.num_embeddings, (num_virtual_tokens,)).tolist()
        with torch.no_grad():
            init = embed.weight[torch.tensor(ids, device=embed.weight.device)].clone()
        self.prompt = nn.Parameter(init)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        batch = input_ids.shape[0]
        embeds = self.model.get_input_embeddings()(input_ids)
        prompt = self.prompt.unsqueeze(0).expand(batch, -1, -1).to(embeds.dtype)
        embeds = torch.cat([prompt, embeds], dim=1)
        mask = _extend(attention_mask, self.num_virtual_tokens, batch, input_ids)
        if labels is not None and labels.dim() == 2:  # causal LM: no loss on the virtual tokens
            pad = torch.full((batch, self.num_virtual_tokens), -100, dtype=labels.dtype, device=labels.device)
            labels = torch.cat([pad, labels], dim=1)
        return self.model(inputs_embeds=embeds, attention_mask=mask, labels=labels, **kwargs)


class PrefixEncoder(nn.Module):
    """Produces the per-layer keys and values of the prefix, as ``peft``'s ``PrefixEncoder``.

    ``token_dim`` is the width of one layer's keys (``num_kv_heads * head_dim``). With
    ``projection_hidden`` set, an embedding of width ``token_dim`` goes through
    ``Linear -> tanh -> Linear`` (the reparameterisation); without it, the keys and values are
    learned directly.
    """

    def __init__(
        self, num_virtual_tokens: int, num_layers: int, token_dim: int, projection_hidden: int | None
    ) -> None:
        super().__init__()
        _check_virtual_tokens(num_virtual_tokens)
        out = num_layers * 2 * token_dim
        self.projection = projection_hidden is not None
        if projection_hidden is not None:
            self.embedding = nn.Embedding(num_virtual_tokens, token_dim)
            self.transform = nn.Sequential(
                nn.Linear(token_dim, projection_hidden), nn.Tanh(), nn.Linear(projection_hidden, out)
            )
        else:
            self.embedding = nn.Embedding(num_virtual_tokens, out)

    def forward(self) -> torch.Tensor:
        """``(num_virtual_tokens, num_layers * 2 * token_dim)``."""
        x = self.embedding.weight
        return self.transform(x) if self.projection else x


class PrefixTuning(nn.Module):
    """A frozen decoder whose every layer attends to ``num_virtual_tokens`` trainable keys and values."""

    def __init__(
        self,
        model: PreTrainedModel,
        num_virtual_tokens: int = 16,
        projection_hidden: int | None = 512,
        trainable: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        _check_virtual_tokens(num_virtual_tokens)
        cfg: Any = model.config  # a model-specific config class: read its fields untyped
        self.model = model
        self.num_virtual_tokens = num_virtual_tokens
        self.num_layers = cfg.num_hidden_layers
        shape = attention_shape(cfg)  # the package's one derivation of heads and head size
        self.num_kv_heads, self.head_dim = shape.num_kv_heads, shape.head_dim
        token_dim = self.num_kv_heads * self.head_dim
        for name, p in model.named_parameters():
            p.requires_grad_(any(t in name for t in trainable))
        self.encoder = PrefixEncoder(num_virtual_tokens, self.num_layers, token_dim, projection_hidden)
        self.encoder.to(next(model.parameters()).dtype)

    def prefix_cache(self, batch: int) -> Any:
        """A fresh ``DynamicCache`` holding the prefix keys and values of every layer."""
        from transformers import DynamicCache

        kv = self.encoder()  # (n, L * 2 * kv_heads * head_dim)
        kv = kv.view(self.num_virtual_tokens, self.num_layers, 2, self.num_kv_heads, self.head_dim)
        kv = kv.permute(1, 2, 3, 0, 4)  # (L, 2, kv_heads, n, head_dim)
        kv = kv.unsqueeze(2).expand(-1, -1, batch, -1, -1, -1)  # (L, 2, batch, kv_heads, n, head_dim)
        return DynamicCache([(kv[i, 0], kv[i, 1]) for i in range(self.num_layers)])

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        batch = input_ids.shape[0]
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = _extend(attention_mask, self.num_virtual_tokens, batch, input_ids)
        return self.model(
            input_ids=input_ids,
            attention_mask=mask,
            past_key_values=self.prefix_cache(batch),
            labels=labels,
            **kwargs,
        )


def init_deep_prompts_from_text(model: Any, tokenizer: Any, text: str) -> list[int]:
    """Start ``peft`` deep prompts (``PrefixTuningConfig(prefix_projection=False)``, P-tuning v2) from
    the keys and values the frozen model computes for ``text``: before training, the model reads each
    input as if ``text`` came first, as prompt tuning's text initialisation does one level deeper.

    ``text`` is tokenised and repeated or cut to ``num_virtual_tokens``; returns those token ids.
    Raises ``ValueError`` for a model that is not a ``peft`` prefix model without projection."""
    config = model.peft_config[model.active_adapter]
    encoder = model.prompt_encoder[model.active_adapter]
    if getattr(config, "prefix_projection", True) or not hasattr(encoder, "embedding"):
        raise ValueError(
            "init_deep_prompts_from_text needs a peft model built with PrefixTuningConfig(prefix_projection=False): "
            "with the projection MLP the keys and values are not parameters that can be set."
        )
    n = config.num_virtual_tokens
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"The text {text!r} has no tokens; give a short instruction such as 'Classify the sentiment'.")
    ids = (ids * (n // len(ids) + 1))[:n]
    base = model.get_base_model()
    decoder = getattr(base, base.base_model_prefix)  # the bare decoder, without the prefix
    device = encoder.embedding.weight.device
    with torch.no_grad():
        cache = decoder(input_ids=torch.tensor([ids], device=device), use_cache=True).past_key_values
        # peft reads the embedding as (n, layers * 2, kv_heads, head_dim): layer l's keys, then its values
        per_layer = [torch.cat([layer.keys[0], layer.values[0]], dim=0) for layer in cache.layers]  # (2 * heads, n, d)
        weight = torch.stack(per_layer).flatten(0, 1).permute(1, 0, 2).reshape(n, -1)
        if weight.shape != encoder.embedding.weight.shape:
            raise ValueError(
                f"The text's keys and values have shape {tuple(weight.shape)}, the deep prompts "
                f"{tuple(encoder.embedding.weight.shape)}: does the model use one attention shape per layer?"
            )
        encoder.embedding.weight.copy_(weight.to(encoder.embedding.weight.dtype))
    return ids
