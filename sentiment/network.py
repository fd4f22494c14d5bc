"""The scoring network: the encoder, one head per training task, and the care heads.

Training tasks (sentiment, offensive, hate, irony, emotion, complaint reason) share the
encoder and teach it what tweets mean. The care heads (needs a reply, trolling, abuse,
urgency, issue, the care signals) are linear on the pooled embedding of the same encoder,
which stage 2 keeps training on the care decisions (``sentiment.care_training``): linear
on a mean of token vectors, so each token's share of a decision is exact
(``sentiment.evidence``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from sentiment.encoder import mean_pool, submodule

HIDDEN = 384

#: Training tasks and their labels, in head order.
TASK_LABELS: dict[str, tuple[str, ...]] = {
    "sentiment": ("negative", "neutral", "positive"),
    "offensive": ("not-offensive", "offensive"),
    "hate": ("non-hate", "hate"),
    "irony": ("non_irony", "irony"),
    "emotion": ("anger", "joy", "optimism", "sadness"),
    "reason": (
        "Bad Flight",
        "Can't Tell",
        "Cancelled Flight",
        "Customer Service Issue",
        "Damaged Luggage",
        "Flight Attendant Complaints",
        "Flight Booking Problems",
        "Late Flight",
        "Lost Luggage",
        "longlines",
    ),
}

URGENCY_LEVELS: tuple[str, ...] = ("low", "medium", "high")


class TaskNetwork(nn.Module):
    """Encoder plus one linear head per training task, over mean-pooled tokens."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict(
            {task: nn.Linear(HIDDEN, len(labels)) for task, labels in TASK_LABELS.items()}
        )

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled sentence embeddings, shape (batch, 384)."""
        return mean_pool(self.token_states(input_ids, attention_mask), attention_mask)

    def token_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's last hidden states, shape (batch, tokens, 384)."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        states: torch.Tensor = out.last_hidden_state
        return states

    def bottom(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, upto: int
    ) -> torch.Tensor:
        """Hidden states after the first ``upto`` layers: what training caches."""
        hidden: torch.Tensor = submodule(self.encoder, "embeddings")(input_ids=input_ids)
        return self._run_layers(hidden, attention_mask, 0, upto)

    def top(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int) -> torch.Tensor:
        """Pooled embeddings from cached hidden states, running layers ``start`` and up."""
        hidden = self._run_layers(hidden, attention_mask, start, None)
        return mean_pool(hidden, attention_mask)

    def _run_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int | None
    ) -> torch.Tensor:
        dtype = hidden.dtype
        additive = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        layers = submodule(self.encoder, "encoder.layer")
        assert isinstance(layers, nn.ModuleList)
        for layer in list(layers)[start:stop]:
            hidden = layer(hidden, additive)
        return hidden

    def task_logits(self, pooled: torch.Tensor, task: str) -> torch.Tensor:
        """Logits of one task's head."""
        head = self.heads[task]
        logits: torch.Tensor = head(self.dropout(pooled))
        return logits

    def task_probs(self, pooled: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities of every task head, concatenated in TASK_LABELS order."""
        parts = [torch.softmax(self.heads[task](pooled), dim=-1) for task in TASK_LABELS]
        return torch.cat(parts, dim=-1)


N_TASK_PROBS = sum(len(labels) for labels in TASK_LABELS.values())


@dataclass(frozen=True, slots=True)
class LinearHead:
    """A fitted linear model: logits = standardised features @ weight.T + bias."""

    weight: torch.Tensor
    bias: torch.Tensor


class CareHeads(nn.Module):
    """Linear care heads over the pooled embedding (``mean``/``std`` standardise it;
    artifacts since the judgment work store 0 and 1: the encoder was trained for them)."""

    def __init__(self, heads: Mapping[str, LinearHead], mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linears = nn.ModuleDict()
        for name, head in heads.items():
            linear = nn.Linear(head.weight.shape[1], head.weight.shape[0])
            with torch.no_grad():
                linear.weight.copy_(head.weight)
                linear.bias.copy_(head.bias)
            self.linears[name] = linear

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every care head."""
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        std: torch.Tensor = self.std  # type: ignore[assignment]
        x = (features - mean) / std
        return {name: linear(x) for name, linear in self.linears.items()}
