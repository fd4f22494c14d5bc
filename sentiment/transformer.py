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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import NDArray

from sentiment import artifacts
from sentiment.base import Scores, Sentiment, SentimentProbs, Signal
from sentiment.calibration import care_probs
from sentiment.data import SIGNAL_KINDS
from sentiment.encoder import (
    import_auto_classes,
    length_batches,
    load_tokenizer,
    mean_pool,
    pad_batch,
)
from sentiment.evidence import quote
from sentiment.external import ExternalSentiment
from sentiment.language import detect_language, load_detector
from sentiment.network import TASK_LABELS, CareHeads, TaskNetwork
from sentiment.quantize import quantize_int8
from sentiment.text import clean_text, unlike_spans
from sentiment.traced import Embed, traced_embed

log = logging.getLogger(__name__)

_ACTIONABLE_NONE = frozenset({"chatter", "abuse", "praise", "question", "feedback"})

#: A learned care signal raises urgency to at least this (high): a safety report, money
#: taken, a taken-over account, an outage, a legal threat or a disruption under way is
#: urgent however calmly it is written. Time pressure alone raises it to medium.
SIGNAL_URGENCY_FLOOR = 0.7
TIME_PRESSURE_FLOOR = 0.5


@dataclass(frozen=True, slots=True)
class Encoded:
    """What the network says about a batch, before the care heads' decisions."""

    pooled: torch.Tensor
    task_probs: torch.Tensor
    #: Per text, each token's share of every evidence head's logit (tokens x columns of
    #: ``TransformerScorer.evidence_columns``); empty unless asked for.
    shares: list[torch.Tensor] = field(default_factory=list)
    #: The tokenizer's output with offsets, for mapping shares back to words.
    tokens: Any = None
    #: Pooled over the tokens similarity compares (``similar``): links and handles out.
    similar: torch.Tensor | None = None


#: Names how ``embed`` pools (links and handles left out of the mean, in the scoring
#: pass): vectors pooled another way are embedded again, never compared.
POOLING = "p2"


def _similarity_masks(
    texts: Sequence[str], offsets: Sequence[Sequence[tuple[int, int]]]
) -> list[list[int]]:
    """Per text, 1 for each token pooled for similarity: the special tokens and every
    word outside a link or handle. A text of nothing else keeps no token (a zero row)."""
    masks = []
    for text, spans in zip(texts, offsets, strict=True):
        unlike = unlike_spans(text)
        words = [
            start != end and not any(a <= start and end <= b for a, b in unlike)
            for start, end in spans
        ]
        specials = [start == end for start, end in spans]
        masks.append(
            [int(w or s) for w, s in zip(words, specials, strict=True)]
            if any(words)
            else [0] * len(spans)
        )
    return masks


def _unit_rows(vectors: torch.Tensor) -> NDArray[np.float32]:
    """L2-normalised float32 rows; zero rows stay zero."""
    out: NDArray[np.float32] = torch.nn.functional.normalize(vectors, dim=1).numpy()
    return out


def encoder_digest(network: TaskNetwork) -> str:
    """A short name for the encoder's weights: embeddings compare only under the same one.

    Refitting the heads keeps it; fine-tuning the encoder changes it. Taken before
    quantization, so the int8 and fp32 paths (cosine about 0.99 apart) share it.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(network.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return f"enc-{digest.hexdigest()[:16]}-{POOLING}"


def _load_text_tools() -> Any:
    """The tokenizer, with the language detector loaded beside it."""
    load_detector()
    return load_tokenizer()


class TransformerScorer:
    """Scores mentions with the fine-tuned all-MiniLM-L6-v2 and its care heads.

    With ``sentiment_model`` (a local Hugging Face sequence-classification folder) that
    model's probabilities are the reported sentiment: ``Scores.sentiment`` and
    ``Scores.probs``, and what reads them (the policy's reach bonus, spike alerts,
    digests). The care decisions stay the built-in model's: its heads were trained with
    its own encoder, and whether a fired signal is praise about a past problem is read
    by its own sentiment head. ``model_version`` then ends in
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
        # The tokenizer and the language detector load on a thread of their own while
        # this one rebuilds the network: both are needed before the first text, and
        # serially they added a quarter to a one-text `brandcare score`'s start-up.
        import_auto_classes()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorer-load") as loader:
            side = loader.submit(_load_text_tools)
            config, network, care = artifacts.load(self.model_dir)
            tokenizer = side.result()
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
        self._tokens: Embed = traced or self.network.token_states
        self.traced = traced is not None
        self.tokenizer: Any = tokenizer
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
        scorer._tokens = network.token_states  # training changes the weights: never traced
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

    def encode(
        self, texts: Sequence[str], *, evidence: bool = False, similar: bool = False
    ) -> Encoded:
        """Pooled embeddings and task probabilities, in input order.

        Texts are sorted by token length and cut into batches, each padded only to its
        own longest text. With ``evidence``, each text's per-token shares of the evidence
        heads come from the same pass (``sentiment.evidence``): no second forward. With
        ``similar``, a second pooling of the same token states, without the tokens of
        links and handles, for reply memory's comparisons.
        """
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            add_special_tokens=True,
            return_offsets_mapping=evidence or similar,
        )
        ids: list[list[int]] = enc["input_ids"]
        keep = _similarity_masks(texts, enc["offset_mapping"]) if similar else []
        similar_pooled = torch.zeros(len(ids), 384) if similar else None
        pooled = torch.empty(len(ids), 384)
        probs = torch.empty(len(ids), sum(len(v) for v in TASK_LABELS.values()))
        shares: list[torch.Tensor] = [torch.empty(0)] * len(ids) if evidence else []
        weight = self._evidence_weight() if evidence else None
        with torch.inference_mode():
            for chunk in length_batches(ids, self.batch_size, self.token_budget):
                input_ids, mask = pad_batch([ids[i] for i in chunk])
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                states = self._tokens(input_ids, mask)
                batch_pooled = mean_pool(states, mask)
                index = torch.tensor(chunk)
                pooled[index] = batch_pooled.float().cpu()
                probs[index] = self.network.task_probs(batch_pooled).float().cpu()
                if similar_pooled is not None:
                    kept, _ = pad_batch([keep[i] for i in chunk])
                    kept = (kept.to(self.device) * mask).to(mask.dtype)
                    similar_pooled[index] = mean_pool(states, kept).float().cpu()
                if weight is not None:
                    per_token = (states.float() @ weight.T).cpu()
                    for row, i in enumerate(chunk):
                        shares[i] = per_token[row, : len(ids[i])] / len(ids[i])
        return Encoded(pooled, probs, shares, enc if evidence else None, similar_pooled)

    def _evidence_weight(self) -> torch.Tensor:
        """The evidence heads' weight rows, stacked in ``evidence_columns`` order."""
        rows = [
            cast(torch.nn.Linear, self.care.linears[head]).weight.detach()[col]
            for head, col in self.evidence_columns
        ]
        return torch.stack(rows).float().to(self.device)

    @property
    def evidence_columns(self) -> list[tuple[str, int]]:
        """(care head, output) pairs whose decisions a reason quotes words for."""
        columns = [("signals", k) for k in range(len(SIGNAL_KINDS))] + [("abusive", 0)]
        return columns + [("issue", c) for c in range(len(self.config.issues))]

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length sentence embeddings (float32, shape (n, 384)), in input order.

        The scorer's own token states, as ``score`` reads them, pooled without links and
        handles: reply memory compares mentions with the encoder that scores them, so no
        second model is loaded, and the score stage can keep the vector of the pass that
        scored a mention (``score_and_embed``). Rows are L2-normalised, so a dot product
        is the cosine similarity; a text with nothing but links and handles gets a zero
        row (similar to nothing).
        """
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        similar = self.encode([clean_text(t)[0] for t in texts], similar=True).similar
        assert similar is not None
        return _unit_rows(similar)

    def score_and_embed(self, texts: Sequence[str]) -> tuple[list[Scores], NDArray[np.float32]]:
        """``score`` and ``embed`` of ``texts`` from one forward pass."""
        if not texts:
            return [], np.zeros((0, 384), dtype=np.float32)
        scores, encoded = self._score(texts, similar=True)
        assert encoded.similar is not None
        return scores, _unit_rows(encoded.similar)

    #: Padded tokens per forward pass at most (``encoder.length_batches``).
    token_budget = 1024

    def care_probs(self, encoded: Encoded) -> dict[str, torch.Tensor]:
        """Probabilities of the care heads, thresholds already folded in (0.5 decides)."""
        return care_probs(self.care, encoded.pooled.to(self.device))

    def quotes(
        self, texts: Sequence[str], encoded: Encoded, wanted: Sequence[tuple[int, str, int]]
    ) -> dict[tuple[int, str, int], str]:
        """The words behind each (text index, care head, output) in ``wanted``."""
        column = {key: c for c, key in enumerate(self.evidence_columns)}
        out: dict[tuple[int, str, int], str] = {}
        for key in wanted:
            i, head, col = key
            shares = encoded.shares[i][:, column[(head, col)]].tolist()
            out[key] = quote(
                texts[i], shares, encoded.tokens.word_ids(i), encoded.tokens["offset_mapping"][i]
            )
        return out

    # -- the Scorer protocol ----------------------------------------------------------

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """Score ``texts``; same length and order."""
        if not texts:
            return []
        return self._score(texts)[0]

    def _score(
        self, texts: Sequence[str], *, similar: bool = False
    ) -> tuple[list[Scores], Encoded]:
        cleaned = [clean_text(t) for t in texts]
        model_texts = [c[0] for c in cleaned]
        encoded = self.encode(model_texts, evidence=True, similar=similar)
        care = self.care_probs(encoded)
        reported = (
            encoded.task_probs[:, :3]
            if self.external_sentiment is None
            else self.external_sentiment.probs(model_texts)
        )
        offensive = encoded.task_probs[:, _task_offset("offensive") + 1].tolist()
        # Plain lists once for the whole batch: indexing tensors per text cost more than
        # the decisions themselves.
        rows = {k: v.tolist() for k, v in care.items()}
        sentiments = reported.tolist()
        praise = (encoded.task_probs[:, :3].argmax(dim=1) == 2).tolist()
        drafts = [
            _Draft.read(
                i, text, sentiments[i], {k: v[i] for k, v in rows.items()}, self, praise=praise[i]
            )
            for i, (text, _) in enumerate(cleaned)
        ]
        found = self.quotes(model_texts, encoded, [key for d in drafts for key in d.wanted()])
        return [
            d.finish(found, truncated, offensive[i], self.model_version)
            if text
            else _empty_scores(self.model_version, SentimentProbs(*d.sentiment_probs))
            for i, (d, (text, truncated)) in enumerate(zip(drafts, cleaned, strict=True))
        ], encoded


@dataclass
class _Draft:
    """One text's scores between the heads and the quoted reasons."""

    index: int
    text: str
    sentiment_probs: list[float]
    urgency: float
    needs_reply: float
    troll: float
    abusive: float
    issue: str
    issue_col: int
    issue_prob: float
    fired: list[tuple[str, float]]
    language: str
    #: The built-in sentiment head reads the post as positive.
    praise: bool

    @classmethod
    def read(
        cls,
        index: int,
        text: str,
        sentiment_probs: list[float],
        care: dict[str, list[float]],
        scorer: TransformerScorer,
        *,
        praise: bool,
    ) -> _Draft:
        """``praise`` is the built-in sentiment head's reading: the care decisions never
        depend on an external sentiment model."""
        if not text:
            sentiment_probs = [0.0, 1.0, 0.0]
        urgency_dist = care["urgency"]
        urgency = _piecewise(0.5 * urgency_dist[1] + urgency_dist[2], scorer._urgency_knots)
        issue_dist = care["issue"]
        best = max(range(len(issue_dist)), key=issue_dist.__getitem__)
        kinds = scorer.config.extra.get("signal_kinds", list(SIGNAL_KINDS))
        fired = [
            (kind, float(p)) for kind, p in zip(kinds, care["signals"], strict=True) if p >= 0.5
        ]
        needs_reply = care["needs_reply"][0]
        if fired and not praise:
            # A report of one of these needs a human as surely as it is one.
            needs_reply = max(needs_reply, *(p for _, p in fired))
            floor = (
                TIME_PRESSURE_FLOOR
                if all(kind == "time_pressure" for kind, _ in fired)
                else SIGNAL_URGENCY_FLOOR
            )
            urgency = max(urgency, floor)
        elif fired:
            fired = []  # praise that mentions a past problem is not a live one
        abusive = care["abusive"][0]
        issue = scorer.config.issues[best]
        if abusive >= 0.5 and issue not in _ACTIONABLE_NONE:
            # Rude but a real issue: the queue, as surely as the issue head names one.
            needs_reply = max(needs_reply, issue_dist[best])
        # Trolling is abuse with no actionable issue: all three heads must agree.
        troll = min(care["troll"][0], abusive, 1.0 - needs_reply)
        if issue not in _ACTIONABLE_NONE:
            # The issue head names a real problem: no more likely a troll than it is wrong.
            troll = min(troll, 1.0 - issue_dist[best])
        return cls(
            index=index,
            text=text,
            sentiment_probs=sentiment_probs,
            urgency=urgency,
            needs_reply=needs_reply,
            troll=troll,
            abusive=abusive,
            issue=scorer.config.issues[best],
            issue_col=best,
            issue_prob=float(issue_dist[best]),
            fired=sorted(fired, key=lambda f: -f[1]),
            language=detect_language(text) if text else "en",
            praise=praise,
        )

    def _issue_is_the_reason(self) -> bool:
        """The issue explains a priority above low when no signal does, unless the post
        is praise: a happy post names its issue too ("refunded AND re-sent it"), but
        that issue is over, and quoting it as the reason for a priority misleads."""
        return (
            self.urgency >= 1 / 3
            and not self.fired
            and self.issue not in _ACTIONABLE_NONE
            and not self.praise
        )

    def wanted(self) -> list[tuple[int, str, int]]:
        """The quotes this text's reasons need."""
        if not self.text:
            return []
        keys = [(self.index, "signals", SIGNAL_KINDS.index(k)) for k, _ in self.fired]
        if self._issue_is_the_reason():
            keys.append((self.index, "issue", self.issue_col))
        if self.troll >= 0.5:
            keys.append((self.index, "abusive", 0))
        elif self.abusive >= 0.5 and self.needs_reply >= 0.5:
            keys.append((self.index, "issue", self.issue_col))
        return keys

    def finish(
        self,
        found: dict[tuple[int, str, int], str],
        truncated: bool,
        offensive: float,
        version: str,
    ) -> Scores:
        probs = SentimentProbs(*(round(p, 4) for p in self.sentiment_probs))
        sentiment = Sentiment(
            ("negative", "neutral", "positive")[max(range(3), key=self.sentiment_probs.__getitem__)]
        )
        signals = tuple(
            Signal(
                kind, found.get((self.index, "signals", SIGNAL_KINDS.index(kind)), ""), round(p, 4)
            )
            for kind, p in self.fired
        )
        issue_words = self.issue.replace("_", " ")
        issue_quote = found.get((self.index, "issue", self.issue_col), "")
        reasons: tuple[str, ...] = ()
        if self.urgency >= 1 / 3:
            # Reasons only where they explain a priority above low.
            reasons = tuple(s.describe() for s in signals)
            if self._issue_is_the_reason():
                reasons = (
                    f"issue: {issue_words} ('{issue_quote}')"
                    if issue_quote
                    else f"issue: {issue_words}",
                )
        troll_reasons: tuple[str, ...] = ()
        if self.troll >= 0.5:
            words = found.get((self.index, "abusive", 0), "")
            troll_reasons = (
                f"abuse with no actionable issue: '{words}'"
                if words
                else "abuse with no actionable issue",
            )
        elif self.abusive >= 0.5 and self.needs_reply >= 0.5:
            where = f" ('{issue_quote}')" if issue_quote else ""
            troll_reasons = (f"rude but a real issue: {issue_words}{where}",)
        return Scores(
            sentiment=sentiment,
            probs=probs,
            urgency=round(self.urgency, 4),
            needs_reply_prob=round(self.needs_reply, 4),
            troll_prob=round(self.troll, 4),
            offensive_prob=round(offensive, 4),
            issue=self.issue,
            issue_prob=round(self.issue_prob, 4),
            urgency_reasons=reasons,
            troll_reasons=troll_reasons,
            signals=signals,
            model_version=version,
            truncated=truncated,
            abusive_prob=round(self.abusive, 4),
            language=self.language,
        )


#: Stores keep a model version in 64 characters; the tag takes 16 of them.
SENTIMENT_TAG_CHARS = 10


def sentiment_version_tag(digest: str) -> str:
    """The version suffix naming an external sentiment model by its files' digest.

    A digest rather than the folder's name: the same checkpoint in two folders scores
    the same, so it must not look like a new model and trigger a rescore.
    """
    return f"+sent-{digest[:SENTIMENT_TAG_CHARS]}"


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
