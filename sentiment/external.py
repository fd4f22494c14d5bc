"""Sentiment from a Hugging Face sequence-classification checkpoint in a local folder.

Some teams already trust a public sentiment model (cardiffnlp's
twitter-roberta-base-sentiment-latest, say) more than our head. This loads one from a
folder, offline, and answers negative / neutral / positive probabilities; the scorer
reports them as its sentiment and keeps everything else its own.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sentiment.encoder import _offline, length_batches, pad_batch


class ExternalSentimentError(RuntimeError):
    """The sentiment checkpoint folder cannot be used; the message says why and what to do."""


#: Label names a checkpoint may use for each class (compared in lower case, with
#: separators removed): cardiffnlp writes "negative", others "NEG" or "Negative".
_SYNONYMS: dict[str, int] = {
    "negative": 0,
    "neg": 0,
    "neutral": 1,
    "neu": 1,
    "positive": 2,
    "pos": 2,
}

#: Files whose bytes decide what the checkpoint answers: weights, labels, tokenizer.
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
)

#: Families whose position ids start after the padding id (RoBERTa's 514 positions hold
#: 512 tokens).
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "bertweet"})


def label_order(id2label: Mapping[int, str], folder: Path) -> tuple[int | None, ...]:
    """The checkpoint's output index for negative, neutral and positive (None: no such class).

    Refuses rather than guesses: "LABEL_0..2" says nothing about which is which, and a
    wrong guess would turn every complaint into praise without any error.
    """
    order: list[int | None] = [None, None, None]
    for index, raw in sorted(id2label.items()):
        name = re.sub(r"[\s_\-]", "", str(raw)).lower()
        klass = _SYNONYMS.get(name)
        if klass is None or order[klass] is not None:
            labels = ", ".join(f"{i}: {n!r}" for i, n in sorted(id2label.items()))
            raise ExternalSentimentError(
                f"cannot tell the sentiment classes of {folder} from its labels ({labels}): "
                'set "id2label" in its config.json to name each output "negative", '
                '"neutral" or "positive" (in the order the model was trained with)'
            )
        order[klass] = int(index)
    if order[0] is None or order[2] is None:
        raise ExternalSentimentError(
            f"{folder} has no negative and positive outputs (labels {dict(id2label)}): "
            'use a sentiment checkpoint, or name its outputs "negative"/"neutral"/"positive" '
            'in "id2label" of its config.json'
        )
    return tuple(order)


def checkpoint_digest(folder: Path) -> str:
    """SHA-256 (hex) of the files that decide the answers: weights, config, tokenizer.

    Stored scores name the model that produced them; the same weights in another folder
    give the same digest, and a relabelled config.json a new one.
    """
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    files = [*weights, folder / "config.json"]
    files += [folder / name for name in _TOKENIZER_FILES if (folder / name).is_file()]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    model: Any
    tokenizer: Any
    order: tuple[int | None, ...]
    max_length: int


class ExternalSentiment:
    """A local sequence-classification checkpoint, answering the three sentiment classes.

    Batched like the built-in scorer (length-sorted batches, padding per batch, inference
    mode, optional int8 dynamic quantization of the linear layers on a CPU).
    """

    #: Padded tokens per forward pass at most, as the built-in scorer.
    token_budget = 1024

    def __init__(
        self,
        folder: Path,
        *,
        device: torch.device | None = None,
        quantize: bool = False,
        batch_size: int = 64,
    ) -> None:
        self.folder = folder
        self.device = device or torch.device("cpu")
        self.batch_size = batch_size
        loaded = _load(folder)
        self.order = loaded.order
        self.tokenizer = loaded.tokenizer
        self.max_length = loaded.max_length
        self.quantized = quantize and self.device.type == "cpu"
        model = loaded.model.eval()
        if self.quantized:
            from torch.ao.quantization import per_channel_dynamic_qconfig

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
                )
        self.model = model.to(self.device)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.digest = checkpoint_digest(folder)

    def probs(self, texts: Sequence[str]) -> torch.Tensor:
        """Probabilities (n, 3) of negative, neutral, positive, in input order.

        ``texts`` as ``text.clean_text`` leaves them. A two-class checkpoint has no
        neutral: its neutral column is 0.
        """
        out = torch.zeros(len(texts), 3)
        if not texts:
            return out
        ids: list[list[int]] = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True
        )["input_ids"]
        with torch.inference_mode():
            for chunk in length_batches(ids, self.batch_size, self.token_budget):
                input_ids, mask = pad_batch([ids[i] for i in chunk], self.pad_id)
                logits = self.model(
                    input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
                ).logits
                # Softmax over the checkpoint's own classes; any it has beyond the three
                # cannot exist (label_order refuses them).
                probs = logits.float().softmax(-1).cpu()
                index = torch.tensor(chunk)
                for klass, column in enumerate(self.order):
                    if column is not None:
                        out[index, klass] = probs[:, column]
        return out


def _load(folder: Path) -> _Checkpoint:
    """Model, tokenizer, label order and token limit, or an error saying what to fix."""
    if not (folder / "config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no config.json"
        raise ExternalSentimentError(
            f"the sentiment model folder {folder} {what}: download the checkpoint once "
            "(e.g. `hf download cardiffnlp/twitter-roberta-base-sentiment-latest --local-dir "
            f"{folder}`) or unset BRANDCARE_SENTIMENT_MODEL"
        )
    _offline()
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ExternalSentimentError(
            f"cannot read the model config in {folder}: {exc}; point "
            "BRANDCARE_SENTIMENT_MODEL at a Hugging Face checkpoint folder"
        ) from exc
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise ExternalSentimentError(
            f"{folder} holds a {', '.join(architectures)}, not a sequence-classification "
            "checkpoint: use a sentiment classifier (its config.json lists an "
            "architecture ending in ForSequenceClassification)"
        )
    order = label_order(config.id2label, folder)
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(folder), local_files_only=True, output_loading_info=True
        )
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ExternalSentimentError(
            f"cannot load the sentiment checkpoint in {folder}: {exc}; it needs the "
            "model's weights, config.json and tokenizer files"
        ) from exc
    missing = sorted(info.get("missing_keys", ()))
    if missing:
        # from_pretrained fills missing weights with random ones: a bare encoder would
        # "classify" at random without any error.
        raise ExternalSentimentError(
            f"{folder} lacks weights of a sequence-classification model ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}): it is not a fine-tuned classifier"
        )
    return _Checkpoint(model, tokenizer, order, _max_length(config, tokenizer))


def _max_length(config: Any, tokenizer: Any) -> int:
    """Tokens the checkpoint can read: its tokenizer's limit within its position table."""
    positions = int(getattr(config, "max_position_embeddings", 512))
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        positions -= int(getattr(config, "pad_token_id", 1) or 1) + 1
    declared = int(getattr(tokenizer, "model_max_length", positions) or positions)
    return max(8, min(declared, positions))
