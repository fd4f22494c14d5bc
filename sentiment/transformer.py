"""The production scorer: the fine-tuned encoder with its heads, batched for a CPU.

Throughput on a CPU comes from five things, all here: batches sorted by length so
padding is small, padding per batch rather than to a fixed length, inference mode,
int8 dynamic quantization of the linear layers (about 3x on this encoder at the
same accuracy, measured by ``brandcare bench score``), and the encoder traced into one
call that runs without the GIL (``sentiment.traced``: 10-30% more when other threads
run Python beside it).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sentiment import artifacts
from sentiment.base import Scores, Sentiment, SentimentProbs, Signal
from sentiment.encoder import length_batches, load_tokenizer, pad_batch
from sentiment.external import ExternalSentiment
from sentiment.network import TASK_LABELS, CareHeads, TaskNetwork, care_features
from sentiment.signals import find_insult, find_problem, find_signals, signal_features
from sentiment.text import clean_text
from sentiment.traced import Embed, traced_embed

log = logging.getLogger(__name__)

_ACTIONABLE_NONE = frozenset({"chatter", "abuse"})


@dataclass(frozen=True, slots=True)
class Encoded:
    """What the network says about a batch, before the care heads' decisions."""

    pooled: torch.Tensor
    task_probs: torch.Tensor


def quantize_int8(network: TaskNetwork) -> None:
    """Int8 dynamic quantization of the encoder's linear layers, in place.

    Per-channel weight scales: per-tensor scales cost 2.7 points of TweetEval sentiment
    macro-recall on this model, per-channel 1.2, at the same speed.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network.encoder = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            network.encoder, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


def encoder_digest(network: TaskNetwork) -> str:
    """A short name for the encoder's weights: embeddings compare only under the same one.

    Refitting the heads keeps it; fine-tuning the encoder changes it. Taken before
    quantization, so the int8 and fp32 paths (cosine about 0.99 apart) share it.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(network.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return f"enc-{digest.hexdigest()[:16]}"


class TransformerScorer:
    """Scores mentions with the fine-tuned all-MiniLM-L6-v2 and its care heads.

    With ``sentiment_model`` (a local Hugging Face sequence-classification folder) that
    model's probabilities are the reported sentiment: ``Scores.sentiment`` and
    ``Scores.probs``, and what reads them (the "negative" urgency reason, the sarcasm
    rule, the policy's reach bonus, spike alerts). The care heads keep the built-in
    sentiment head's probabilities as features: they were fitted on them, and another
    model's would be inputs they never saw. ``model_version`` then ends in
    ``+sent-<digest>`` so stored scores name the model that produced them.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        quantize: bool = True,
        batch_size: int = 64,
        threads: int | None = None,
        device: str | None = None,
        sentiment_model: Path | None = None,
        trace: bool = True,
    ) -> None:
        self.model_dir = model_dir or artifacts.default_model_dir()
        config, network, care = artifacts.load(self.model_dir)
        self.config = config
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if threads:
            torch.set_num_threads(threads)
        self.quantized = quantize and self.device.type == "cpu"
        self.embedding_version = encoder_digest(network)
        if self.quantized:
            quantize_int8(network)
        self.network = network.to(self.device).eval()
        self.care = care.to(self.device)
        # The forward pass as one GIL-free call (``sentiment.traced``), else eager.
        traced = traced_embed(self.network, self.device) if trace else None
        self._embed: Embed = traced or self.network.embed
        self.traced = traced is not None
        self.tokenizer: Any = load_tokenizer()
        self.batch_size = batch_size
        self.max_length = config.max_length
        suffix = "-int8" if self.quantized else ""
        self.model_version = f"{config.version}{suffix}"
        self.external_sentiment: ExternalSentiment | None = None
        if sentiment_model is not None:
            self.external_sentiment = ExternalSentiment(
                sentiment_model, device=self.device, quantize=self.quantized, batch_size=batch_size
            )
            self.model_version += sentiment_version_tag(self.external_sentiment.digest)
            log.info(
                "sentiment from %s (SHA-256 %s), scores as %s",
                sentiment_model,
                self.external_sentiment.digest,
                self.model_version,
            )
        self._urgency_knots = config.extra.get("urgency_knots", [0.0, 1 / 3, 2 / 3, 1.0])

    @classmethod
    def from_network(
        cls, config: artifacts.ModelConfig, network: TaskNetwork, care: CareHeads
    ) -> TransformerScorer:
        """A scorer around an in-memory network (training evaluates with this)."""
        scorer = cls.__new__(cls)
        scorer.model_dir = Path(".")
        scorer.config = config
        scorer.device = next(network.parameters()).device
        scorer.quantized = False
        scorer.embedding_version = encoder_digest(network)
        scorer.network = network.eval()
        scorer._embed = network.embed  # training changes the weights under it: never traced
        scorer.traced = False
        scorer.care = care.eval()
        scorer.tokenizer = load_tokenizer()
        scorer.batch_size = 64
        scorer.max_length = config.max_length
        scorer.model_version = config.version
        scorer.external_sentiment = None
        scorer._urgency_knots = config.extra.get("urgency_knots", [0.0, 1 / 3, 2 / 3, 1.0])
        return scorer

    # -- batching ---------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Pooled embeddings and task probabilities, in input order.

        Texts are sorted by token length and cut into batches, each padded only to its
        own longest text.
        """
        ids: list[list[int]] = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True
        )["input_ids"]
        pooled = torch.empty(len(ids), 384)
        probs = torch.empty(len(ids), sum(len(v) for v in TASK_LABELS.values()))
        with torch.inference_mode():
            for chunk in length_batches(ids, self.batch_size, self.token_budget):
                input_ids, mask = pad_batch([ids[i] for i in chunk])
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                batch_pooled = self._embed(input_ids, mask)
                index = torch.tensor(chunk)
                pooled[index] = batch_pooled.float().cpu()
                probs[index] = self.network.task_probs(batch_pooled).float().cpu()
        return Encoded(pooled, probs)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length sentence embeddings (float32, shape (n, 384)), in input order.

        The scorer's own pooled embeddings, read as cleaned by ``score``: reply memory
        compares mentions with the encoder that scores them, so no second model is
        loaded. Rows are L2-normalised, so a dot product is the cosine similarity; an
        empty text gets a zero row (similar to nothing).
        """
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        pooled = self.encode([clean_text(t)[0] for t in texts]).pooled
        out: NDArray[np.float32] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        out[[i for i, text in enumerate(texts) if not text.strip()]] = 0.0
        return out

    #: Padded tokens per forward pass at most (``encoder.length_batches``).
    token_budget = 1024

    def care_probs(self, texts: Sequence[str], encoded: Encoded) -> dict[str, torch.Tensor]:
        """Probabilities of the care heads (needs reply, troll, urgency, issue)."""
        features = care_features(
            encoded.pooled, encoded.task_probs, [signal_features(t) for t in texts]
        )
        with torch.inference_mode():
            logits = self.care(features.to(self.device))
        out: dict[str, torch.Tensor] = {}
        for name, raw in logits.items():
            value = raw.float().cpu()
            out[name] = torch.sigmoid(value[:, 0]) if value.shape[1] == 1 else value.softmax(-1)
        return out

    # -- the Scorer protocol ----------------------------------------------------------

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """Score ``texts``; same length and order."""
        if not texts:
            return []
        cleaned = [clean_text(t) for t in texts]
        model_texts = [c[0] for c in cleaned]
        encoded = self.encode(model_texts)
        care = self.care_probs(model_texts, encoded)
        reported = (
            encoded.task_probs[:, :3]
            if self.external_sentiment is None
            else self.external_sentiment.probs(model_texts)
        )
        offensive_at = _task_offset("offensive") + 1
        irony_at = _task_offset("irony") + 1
        results = []
        for i, (text, truncated) in enumerate(cleaned):
            sentiment_probs = reported[i].tolist()
            if not text and self.external_sentiment is not None:
                # Nothing was said: neutral, whatever a checkpoint makes of bare
                # [CLS] [SEP] (the built-in head's own answer there is neutral).
                sentiment_probs = [0.0, 1.0, 0.0]
            # The sarcasm rule applies to an external model too: it fires only when the
            # reported sentiment is positive, so a model that reads sarcasm itself is
            # never overruled, and one that reads "great, another cancelled flight" as
            # praise is corrected by our irony head and problem words.
            sarcasm = _sarcasm(text, sentiment_probs, float(encoded.task_probs[i, irony_at]))
            if sarcasm:
                # Read as praise by the sentiment head, but ironic and about a problem:
                # swap negative and positive so the label and the probabilities agree.
                sentiment_probs = [sentiment_probs[2], sentiment_probs[1], sentiment_probs[0]]
            results.append(
                self._assemble(
                    text,
                    truncated,
                    sentiment_probs,
                    float(encoded.task_probs[i, offensive_at]),
                    {name: value[i] for name, value in care.items()},
                    sarcasm,
                )
            )
        return results

    def _assemble(
        self,
        text: str,
        truncated: bool,
        sentiment_probs: list[float],
        offensive: float,
        care: dict[str, torch.Tensor],
        sarcasm: str | None = None,
    ) -> Scores:
        probs = SentimentProbs(*(round(p, 4) for p in sentiment_probs))
        sentiment = Sentiment(
            ("negative", "neutral", "positive")[max(range(3), key=sentiment_probs.__getitem__)]
        )
        signals = find_signals(text)
        if not text:
            return _empty_scores(self.model_version, probs)
        urgency_dist = care["urgency"].tolist()
        raw_urgency = 0.5 * urgency_dist[1] + urgency_dist[2]
        urgency = _piecewise(raw_urgency, self._urgency_knots)
        issues = self.config.issues
        issue_dist = care["issue"].tolist()
        best = max(range(len(issue_dist)), key=issue_dist.__getitem__)
        troll_prob = float(care["troll"])
        needs_reply = float(care["needs_reply"])
        return Scores(
            sentiment=sentiment,
            probs=probs,
            urgency=round(urgency, 4),
            needs_reply_prob=round(needs_reply, 4),
            troll_prob=round(troll_prob, 4),
            offensive_prob=round(offensive, 4),
            issue=issues[best],
            issue_prob=round(issue_dist[best], 4),
            urgency_reasons=(f"sarcasm: '{sarcasm}' in praise words",) * bool(sarcasm)
            + urgency_reasons(sentiment, signals, issues[best], urgency),
            troll_reasons=troll_reasons(text, troll_prob, offensive, issues[best], needs_reply),
            signals=signals,
            model_version=self.model_version,
            truncated=truncated,
        )


#: Stores keep a model version in 64 characters; the tag takes 16 of them.
SENTIMENT_TAG_CHARS = 10


def sentiment_version_tag(digest: str) -> str:
    """The version suffix naming an external sentiment model by its files' digest.

    A digest rather than the folder's name: the same checkpoint in two folders scores
    the same, so it must not look like a new model and trigger a rescore.
    """
    return f"+sent-{digest[:SENTIMENT_TAG_CHARS]}"


#: Irony probability above which praise words around a problem are read as sarcasm.
SARCASM_IRONY = 0.85


def _sarcasm(text: str, sentiment_probs: list[float], irony: float) -> str | None:
    """The problem words of a sarcastic complaint ("great, another cancelled flight")."""
    if irony < SARCASM_IRONY or max(range(3), key=sentiment_probs.__getitem__) != 2:
        return None
    return find_problem(text)


def _task_offset(task: str) -> int:
    offset = 0
    for name, labels in TASK_LABELS.items():
        if name == task:
            return offset
        offset += len(labels)
    raise KeyError(task)


def _piecewise(value: float, knots: Sequence[float]) -> float:
    """Map the model's raw urgency onto [0, 1] so that 1/3 and 2/3 are the level boundaries."""
    return float(np.interp(value, knots, [0.0, 1 / 3, 2 / 3, 1.0]))


def _empty_scores(version: str, probs: SentimentProbs) -> Scores:
    return Scores(
        sentiment=Sentiment.NEUTRAL,
        probs=probs,
        urgency=0.0,
        needs_reply_prob=0.0,
        troll_prob=0.0,
        offensive_prob=0.0,
        issue="chatter",
        issue_prob=1.0,
        urgency_reasons=("empty text",),
        troll_reasons=(),
        signals=(),
        model_version=version,
    )


def urgency_reasons(
    sentiment: Sentiment, signals: Sequence[Signal], issue: str, urgency: float
) -> tuple[str, ...]:
    """Why a mention is (or is not) urgent, in an agent's words, most serious first."""
    reasons: list[str] = []
    if sentiment is Sentiment.NEGATIVE:
        reasons.append("negative")
    for signal in sorted(signals, key=lambda s: -s.weight):
        reasons.append(signal.describe())
    if issue not in _ACTIONABLE_NONE and urgency >= 1 / 3:
        reasons.append(f"issue: {issue.replace('_', ' ')}")
    return tuple(reasons)


def troll_reasons(
    text: str, troll_prob: float, offensive: float, issue: str, needs_reply: float
) -> tuple[str, ...]:
    """Why a mention looks (or does not look) like trolling."""
    reasons: list[str] = []
    insult = find_insult(text)
    no_issue = issue in _ACTIONABLE_NONE or needs_reply < 0.5
    if troll_prob >= 0.5:
        reasons.append("insult with no issue" if no_issue else "abusive")
    if insult:
        reasons.append(f"insult: '{insult}'")
    if offensive >= 0.5:
        reasons.append(f"offensive language ({offensive:.0%})")
    if troll_prob < 0.5 and offensive >= 0.5 and not no_issue:
        reasons.append(f"rude but a real issue: {issue.replace('_', ' ')}")
    return tuple(reasons)
