"""Stage 2 of ``brandcare train``: the encoder fine-tuned on the care decisions.

Stage 1 teaches the encoder what tweets mean (sentiment, offence, irony...). The care
decisions need more than that: trolling is abuse *with no actionable issue*, so the
model must read the abuse and the issue in the same post, and an outage or a safety
report comes in many phrasings that no pooled vector of a sentiment model separates
with a linear head. So the whole encoder keeps training here, on the care labels, the
training part of ``care_judgment`` and our written posts (``sentiment/corpus``), with
heads for every care decision, while a rehearsal sample of the stage-1 tasks keeps what
stage 1 learned (measured on TweetEval and the airline tweets after this stage).

Labels a post does not have (a signal nobody judged, abuse on a TweetEval tweet) are
masked out of the loss rather than guessed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from sentiment.base import ISSUES
from sentiment.data import SIGNAL_KINDS, CareItem, Corpus, Example
from sentiment.encoder import load_tokenizer, pad_batch
from sentiment.network import HIDDEN, TASK_LABELS, URGENCY_LEVELS, TaskNetwork

log = logging.getLogger(__name__)

#: Care heads with one logit per output read through a sigmoid (the rest are softmax).
SIGMOID_HEADS = frozenset({"needs_reply", "troll", "abusive", "signals"})
SENTIMENTS = TASK_LABELS["sentiment"]


@dataclass(frozen=True)
class CareConfig:
    """Stage 2's hyper-parameters; the defaults produce the committed artifacts."""

    seed: int = 29
    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    max_length: int = 128
    #: Stage-1 examples replayed per epoch, per task, so the task heads stay calibrated.
    rehearsal: dict[str, int] = field(
        default_factory=lambda: {
            "sentiment": 4000,
            "offensive": 1200,
            "irony": 300,
            "emotion": 300,
            "hate": 300,
            "reason": 300,
        }
    )
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {
            "needs_reply": 1.0,
            "troll": 1.5,
            "abusive": 1.0,
            "urgency": 1.0,
            "issue": 0.5,
            "signals": 1.0,
            "sentiment": 1.0,
        }
    )


class CareNetwork(nn.Module):
    """The stage-1 network plus the care heads, all on the mean-pooled embedding."""

    def __init__(self, network: TaskNetwork, issues: Sequence[str]) -> None:
        super().__init__()
        self.network = network
        self.issues = list(issues)
        sizes = {
            "needs_reply": 1,
            "troll": 1,
            "abusive": 1,
            "urgency": len(URGENCY_LEVELS),
            "issue": len(self.issues),
            "signals": len(SIGNAL_KINDS),
        }
        self.care = nn.ModuleDict({name: nn.Linear(HIDDEN, n) for name, n in sizes.items()})
        self.dropout = nn.Dropout(0.1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(pooled, logits of every care head and of the sentiment head)."""
        pooled = self.network.embed(input_ids, attention_mask)
        dropped = self.dropout(pooled)
        logits = {name: head(dropped) for name, head in self.care.items()}
        logits["sentiment"] = self.network.heads["sentiment"](dropped)
        return pooled, logits


@dataclass(frozen=True, slots=True)
class _Targets:
    needs_reply: torch.Tensor
    troll: torch.Tensor
    abusive: torch.Tensor
    abusive_mask: torch.Tensor
    urgency: torch.Tensor
    issue: torch.Tensor
    signals: torch.Tensor
    signals_mask: torch.Tensor
    sentiment: torch.Tensor


def _targets(items: Sequence[CareItem], issues: Sequence[str]) -> _Targets:
    signals = torch.zeros(len(items), len(SIGNAL_KINDS))
    signals_mask = torch.zeros(len(items), len(SIGNAL_KINDS))
    for row, item in enumerate(items):
        for kind, present in item.signals:
            col = SIGNAL_KINDS.index(kind)
            signals[row, col] = float(present)
            signals_mask[row, col] = 1.0
    return _Targets(
        needs_reply=torch.tensor([float(i.needs_reply) for i in items]),
        troll=torch.tensor([float(i.troll) for i in items]),
        abusive=torch.tensor([float(bool(i.abusive)) for i in items]),
        abusive_mask=torch.tensor([float(i.abusive is not None) for i in items]),
        urgency=torch.tensor([URGENCY_LEVELS.index(i.urgency) for i in items]),
        issue=torch.tensor([issues.index(i.issue) if i.issue in issues else -100 for i in items]),
        signals=signals,
        signals_mask=signals_mask,
        sentiment=torch.tensor([SENTIMENTS.index(i.sentiment) for i in items]),
    )


def care_loss(
    logits: dict[str, torch.Tensor], targets: _Targets, weights: dict[str, float]
) -> torch.Tensor:
    """Weighted sum of the care heads' losses, unknown labels masked out."""
    bce = nn.functional.binary_cross_entropy_with_logits
    ce = nn.functional.cross_entropy
    parts = {
        "needs_reply": bce(logits["needs_reply"][:, 0], targets.needs_reply),
        "troll": bce(logits["troll"][:, 0], targets.troll),
        "urgency": ce(logits["urgency"], targets.urgency),
        "issue": ce(logits["issue"], targets.issue, ignore_index=-100),
        "sentiment": ce(logits["sentiment"], targets.sentiment),
    }
    abusive = bce(logits["abusive"][:, 0], targets.abusive, reduction="none")
    parts["abusive"] = (abusive * targets.abusive_mask).sum() / targets.abusive_mask.sum().clamp(
        min=1.0
    )
    signals = bce(logits["signals"], targets.signals, reduction="none")
    parts["signals"] = (signals * targets.signals_mask).sum() / targets.signals_mask.sum().clamp(
        min=1.0
    )
    total = sum((weights.get(name, 1.0) * loss for name, loss in parts.items()), torch.zeros(()))
    return total


def _rehearsal(corpus: Corpus, config: CareConfig, epoch: int) -> list[tuple[str, Example]]:
    out: list[tuple[str, Example]] = []
    for task, cap in config.rehearsal.items():
        examples = corpus.train[task]
        rng = random.Random(f"{config.seed}:{task}:{epoch}")
        out.extend((task, ex) for ex in rng.sample(examples, min(cap, len(examples))))
    return out


def _length_sorted_batches(
    lengths: Sequence[int], size: int, rng: random.Random
) -> list[list[int]]:
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for start in range(0, len(order), size * 20):
        pool = sorted(order[start : start + size * 20], key=lambda i: lengths[i])
        batches.extend(pool[j : j + size] for j in range(0, len(pool), size))
    return batches


def _epoch_batches(
    care_ids: Sequence[Sequence[int]],
    replay: Sequence[tuple[str, Example]],
    replay_ids: Sequence[Sequence[int]],
    size: int,
    rng: random.Random,
) -> list[tuple[str, list[int]]]:
    """Care batches and task-homogeneous rehearsal batches, interleaved at random."""
    work: list[tuple[str, list[int]]] = [
        ("care", b) for b in _length_sorted_batches([len(x) for x in care_ids], size, rng)
    ]
    by_task: dict[str, list[int]] = {}
    for index, (task, _) in enumerate(replay):
        by_task.setdefault(task, []).append(index)
    for task, indices in by_task.items():
        lengths = [len(replay_ids[i]) for i in indices]
        for batch in _length_sorted_batches(lengths, size, rng):
            work.append((task, [indices[j] for j in batch]))
    rng.shuffle(work)
    return work


def finetune_care(
    network: TaskNetwork, items: Sequence[CareItem], corpus: Corpus, config: CareConfig
) -> CareNetwork:
    """Train the encoder and the care heads together (stage 2)."""
    from sentiment.text import clean_text

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer = load_tokenizer()
    issues = list(ISSUES)
    unknown = sorted({i.issue for i in items} - set(issues))
    if unknown:
        raise ValueError(f"care items with issues outside the guide's list: {unknown}")
    model = CareNetwork(network, issues)
    for param in model.parameters():
        param.requires_grad_(True)

    def tokenize(texts: Sequence[str]) -> list[list[int]]:
        cleaned = [clean_text(t)[0] for t in texts]
        ids: list[list[int]] = tokenizer(cleaned, truncation=True, max_length=config.max_length)[
            "input_ids"
        ]
        return ids

    care_ids = tokenize([i.text for i in items])
    encoder_params = list(model.network.encoder.parameters())
    head_params = list(model.care.parameters()) + list(model.network.heads.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": config.lr},
            {"params": head_params, "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    rehearsal_size = sum(min(c, len(corpus.train[t])) for t, c in config.rehearsal.items())
    steps_per_epoch = (len(items) + rehearsal_size) // config.batch_size + 10
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(0.06 * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    started = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        replay = _rehearsal(corpus, config, epoch)
        replay_ids = tokenize([ex.text for _, ex in replay])
        work = _epoch_batches(care_ids, replay, replay_ids, config.batch_size, rng)
        running, seen = 0.0, 0
        for kind, batch in work:
            if kind == "care":
                ids, mask = pad_batch([care_ids[i] for i in batch])
                _, logits = model(ids, mask)
                loss = care_loss(
                    logits, _targets([items[i] for i in batch], issues), config.loss_weights
                )
            else:
                ids, mask = pad_batch([replay_ids[i] for i in batch])
                pooled = model.network.embed(ids, mask)
                labels = torch.tensor([TASK_LABELS[kind].index(replay[i][1].label) for i in batch])
                loss = nn.functional.cross_entropy(model.network.task_logits(pooled, kind), labels)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(encoder_params + head_params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
        log.info(
            "care epoch %d/%d: mean loss %.4f (%.0fs)",
            epoch + 1,
            config.epochs,
            running / max(seen, 1),
            time.perf_counter() - started,
        )
    model.eval()
    return model
