"""``brandcare train``: reproduce the scorer's artifacts from ``../shared/datasets``.

Two stages, both seeded:

1. Multi-task fine-tuning of all-MiniLM-L6-v2 with LoRA adapters (plus biases and layer
   norms) on the top layers, over sentiment (airline + TweetEval), offensive, hate,
   irony, emotion and complaint reason. The bottom layers stay frozen and their outputs
   are computed once, so an epoch costs a fraction of a full fine-tune on a CPU.
2. Care heads (needs reply, trolling, urgency, issue): regularised logistic regressions
   on [pooled embedding, task probabilities, care signals], fitted on the training part
   of the care labels. Regularisation and decision thresholds are chosen by 5-fold
   cross-validation on that part only; thresholds are folded into the heads so that the
   policy's plain 0.5 (and 1/3, 2/3 for urgency levels) are the tuned decision points.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentiment import artifacts
from sentiment.data import CareItem, Corpus, load_corpus
from sentiment.encoder import (
    base_checksum,
    inject_lora,
    load_base_encoder,
    load_tokenizer,
    mark_trainable,
    pad_batch,
)
from sentiment.metrics import f1, macro_f1
from sentiment.network import TASK_LABELS, URGENCY_LEVELS, CareHeads, LinearHead, TaskNetwork
from sentiment.signals import signal_features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults produce the committed artifacts."""

    seed: int = 13
    epochs: int = 2
    batch_size: int = 32
    lr: float = 8e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    #: 0: fine-tune every weight of the unfrozen layers (stored as int8 deltas);
    #: > 0: LoRA adapters of this rank instead (smaller, measured weaker here).
    lora_rank: int = 0
    lora_alpha: float = 32.0
    lora_dropout: float = 0.1
    frozen_layers: int = 0
    max_length: int = 128
    threads: int = 2
    #: Examples per task per epoch at most (hate and reason are auxiliary).
    task_caps: dict[str, int] = field(
        default_factory=lambda: {"hate": 3000, "reason": 3000, "offensive": 8000}
    )
    task_weights: dict[str, float] = field(
        default_factory=lambda: {
            "sentiment": 1.0,
            "offensive": 1.0,
            "hate": 0.5,
            "irony": 0.5,
            "emotion": 0.5,
            "reason": 0.5,
        }
    )


@dataclass
class _Cached:
    task: str
    label: int
    hidden: torch.Tensor  # (tokens, 384) after the frozen layers


def _tokenize(tokenizer: object, texts: Sequence[str], max_length: int) -> list[list[int]]:
    encode: Callable[..., dict[str, list[list[int]]]] = tokenizer  # type: ignore[assignment]
    return encode(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _cache_bottom(
    network: TaskNetwork, token_ids: list[list[int]], frozen: int, batch: int = 128
) -> list[torch.Tensor]:
    """Hidden states after the frozen layers, one tensor per text (no padding kept)."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(token_ids)
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    network.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            ids, mask = pad_batch([token_ids[i] for i in chunk])
            hidden = network.bottom(ids, mask, frozen)
            for row, i in enumerate(chunk):
                out[i] = hidden[row, : len(token_ids[i])].clone()
    return out


def _class_weights(labels: Sequence[int], n: int) -> torch.Tensor:
    counts = Counter(labels)
    total = len(labels)
    return torch.tensor([total / (n * max(counts.get(i, 0), 1)) for i in range(n)])


def _batches(examples: list[_Cached], size: int, rng: random.Random) -> list[list[int]]:
    """Task-homogeneous, roughly length-sorted batches in random order."""
    by_task: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_task.setdefault(ex.task, []).append(i)
    batches: list[list[int]] = []
    for indices in by_task.values():
        rng.shuffle(indices)
        for start in range(0, len(indices), size * 20):
            pool = sorted(indices[start : start + size * 20], key=lambda i: len(examples[i].hidden))
            batches.extend(pool[j : j + size] for j in range(0, len(pool), size))
    rng.shuffle(batches)
    return batches


def _training_examples(
    corpus: Corpus, config: TrainConfig
) -> tuple[list[str], list[tuple[str, int]]]:
    """Texts and (task, label index) pairs, with per-task caps applied (seeded)."""
    texts: list[str] = []
    meta: list[tuple[str, int]] = []
    for task, examples in corpus.train.items():
        labels = TASK_LABELS[task]
        chosen = list(examples)
        cap = config.task_caps.get(task)
        if cap is not None and len(chosen) > cap:
            chosen = random.Random(f"{config.seed}:{task}").sample(chosen, cap)
        for ex in chosen:
            texts.append(ex.text)
            meta.append((task, labels.index(ex.label)))
    return texts, meta


def finetune(corpus: Corpus, config: TrainConfig) -> TaskNetwork:
    """Stage 1: multi-task LoRA fine-tuning of the top encoder layers."""
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer = load_tokenizer()
    encoder = load_base_encoder()
    if config.lora_rank:
        inject_lora(
            encoder,
            config.lora_rank,
            config.lora_alpha,
            config.lora_dropout,
            skip=config.frozen_layers,
        )
    mark_trainable(encoder, frozen_layers=config.frozen_layers, full=not config.lora_rank)
    network = TaskNetwork(encoder)

    texts, meta = _training_examples(corpus, config)
    started = time.perf_counter()
    token_ids = _tokenize(tokenizer, texts, config.max_length)
    hidden = _cache_bottom(network, token_ids, config.frozen_layers)
    log.info(
        "cached %d texts after %d frozen layers in %.0fs",
        len(texts),
        config.frozen_layers,
        time.perf_counter() - started,
    )
    cached = [_Cached(t, y, h) for (t, y), h in zip(meta, hidden, strict=True)]
    weights = {
        task: _class_weights([c.label for c in cached if c.task == task], len(labels))
        for task, labels in TASK_LABELS.items()
    }

    head_params = list(network.heads.parameters())
    encoder_params = [p for p in network.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": config.lr},
            {"params": head_params, "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = math.ceil(len(cached) / config.batch_size) + len(TASK_LABELS)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(0.06 * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    step = 0
    for epoch in range(config.epochs):
        network.train()
        running, seen, tick = 0.0, 0, time.perf_counter()
        for batch in _batches(cached, config.batch_size, rng):
            task = cached[batch[0]].task
            rows = [cached[i].hidden for i in batch]
            states = nn.utils.rnn.pad_sequence(rows, batch_first=True)
            mask = torch.zeros(states.shape[:2], dtype=torch.long)
            for r, row in enumerate(rows):
                mask[r, : len(row)] = 1
            labels = torch.tensor([cached[i].label for i in batch])
            pooled = network.top(states, mask, config.frozen_layers)
            logits = network.task_logits(pooled, task)
            loss = nn.functional.cross_entropy(logits, labels, weight=weights[task])
            (loss * config.task_weights.get(task, 1.0)).backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(encoder_params + head_params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            step += 1
            if step % 200 == 0:
                rate = seen / (time.perf_counter() - tick)
                log.info(
                    "epoch %d step %d/%d loss %.4f (%.0f texts/s)",
                    epoch + 1,
                    step,
                    total,
                    running / seen,
                    rate,
                )
        log.info("epoch %d done: mean loss %.4f", epoch + 1, running / max(seen, 1))
    network.eval()
    return network


# -- stage 2: care heads -------------------------------------------------------------------


@dataclass(frozen=True)
class CareFit:
    """The fitted care heads and what cross-validation chose."""

    heads: CareHeads
    issues: list[str]
    urgency_knots: list[float]
    chosen: dict[str, str]


def _features(network: TaskNetwork, texts: Sequence[str], max_length: int) -> np.ndarray:
    from sentiment.text import clean_text

    tokenizer = load_tokenizer()
    cleaned = [clean_text(t)[0] for t in texts]
    ids = _tokenize(tokenizer, cleaned, max_length)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(ids), 64):
            batch_ids, mask = pad_batch(ids[start : start + 64])
            pooled = network.embed(batch_ids, mask)
            rows.append(torch.cat([pooled, network.task_probs(pooled)], dim=-1))
    dense = torch.cat(rows).numpy()
    flags = np.array([signal_features(t) for t in cleaned], dtype=np.float32)
    return np.concatenate([dense, flags], axis=1).astype(np.float32)


def _folds(labels: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """Stratified fold assignment: one array of indices per fold."""
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by_label: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    offset = 0
    for key in sorted(by_label):
        indices = by_label[key]
        rng.shuffle(indices)
        for j, i in enumerate(indices):
            folds[(j + offset) % k].append(i)
        offset += len(indices)
    return [np.array(sorted(f)) for f in folds]


def _oof(
    x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], c: float, balanced: bool
) -> np.ndarray:
    """Out-of-fold class probabilities of a logistic regression."""
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    out = np.zeros((len(y), len(classes)))
    for fold in folds:
        train = np.setdiff1d(np.arange(len(y)), fold)
        model = LogisticRegression(
            C=c, max_iter=3000, class_weight="balanced" if balanced else None
        )
        model.fit(x[train], y[train])
        probs = model.predict_proba(x[fold])
        for j, cls in enumerate(model.classes_):
            out[fold, int(np.searchsorted(classes, cls))] = probs[:, j]
    return out


_GRID = [(c, b) for c in (0.003, 0.01, 0.03, 0.1, 0.3) for b in (False, True)]


def _best_binary(
    x: np.ndarray, y: np.ndarray, folds: list[np.ndarray]
) -> tuple[float, bool, float, float]:
    """(C, balanced, threshold, cv F1) maximising out-of-fold F1 of the positive class."""
    best = (0.1, False, 0.5, -1.0)
    gold = ["1" if v else "0" for v in y]
    for c, balanced in _GRID:
        probs = _oof(x, y, folds, c, balanced)[:, 1]
        for t in np.arange(0.2, 0.81, 0.025):
            score = f1(gold, ["1" if p >= t else "0" for p in probs], "1")
            if score > best[3] + 1e-9:
                best = (c, balanced, float(t), score)
    return best


def _urgency_levels(raw: np.ndarray, t1: float, t2: float) -> list[str]:
    return ["high" if r >= t2 else "medium" if r >= t1 else "low" for r in raw]


def _best_urgency(
    x: np.ndarray, y: np.ndarray, folds: list[np.ndarray]
) -> tuple[float, bool, float, float, float]:
    """(C, balanced, t1, t2, cv macro-F1) for the urgency head and its level thresholds."""
    best = (0.1, False, 1 / 3, 2 / 3, -1.0)
    gold = [URGENCY_LEVELS[v] for v in y]
    grid = np.arange(0.1, 0.91, 0.025)
    for c, balanced in _GRID:
        probs = _oof(x, y, folds, c, balanced)
        raw = 0.5 * probs[:, 1] + probs[:, 2]
        for t1 in grid:
            for t2 in grid[grid > t1 + 0.05]:
                score = macro_f1(gold, _urgency_levels(raw, float(t1), float(t2)))
                if score > best[4] + 1e-9:
                    best = (c, balanced, float(t1), float(t2), score)
    return best


def fit_care(network: TaskNetwork, items: Sequence[CareItem], config: TrainConfig) -> CareFit:
    """Stage 2: the care heads, with cross-validated regularisation and thresholds."""
    from sklearn.linear_model import LogisticRegression

    raw = _features(network, [i.text for i in items], config.max_length)
    mean = raw.mean(axis=0)
    std = raw.std(axis=0) + 1e-6
    x = (raw - mean) / std
    folds = _folds([f"{i.troll}{i.urgency}{i.needs_reply}" for i in items], 5, config.seed)
    heads: dict[str, LinearHead] = {}
    chosen: dict[str, str] = {}

    def fit(y: np.ndarray, c: float, balanced: bool) -> LogisticRegression:
        model = LogisticRegression(
            C=c, max_iter=3000, class_weight="balanced" if balanced else None
        )
        model.fit(x, y)
        return model

    for name in ("needs_reply", "troll"):
        y = np.array([int(getattr(i, name)) for i in items])
        c, balanced, threshold, score = _best_binary(x, y, folds)
        model = fit(y, c, balanced)
        # Fold the tuned threshold into the bias: p >= 0.5 now means p_raw >= threshold.
        bias = model.intercept_ - math.log(threshold / (1 - threshold))
        heads[name] = LinearHead(
            torch.tensor(model.coef_, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)
        )
        chosen[name] = f"C={c} balanced={balanced} threshold={threshold:.3f} cv_f1={score:.3f}"

    y = np.array([URGENCY_LEVELS.index(i.urgency) for i in items])
    c, balanced, t1, t2, score = _best_urgency(x, y, folds)
    model = fit(y, c, balanced)
    heads["urgency"] = LinearHead(
        torch.tensor(model.coef_, dtype=torch.float32),
        torch.tensor(model.intercept_, dtype=torch.float32),
    )
    chosen["urgency"] = f"C={c} balanced={balanced} t1={t1:.3f} t2={t2:.3f} cv_macro_f1={score:.3f}"

    issues = sorted({i.issue for i in items})
    y = np.array([issues.index(i.issue) for i in items])
    model = fit(y, 0.1, False)
    heads["issue"] = LinearHead(
        torch.tensor(model.coef_, dtype=torch.float32),
        torch.tensor(model.intercept_, dtype=torch.float32),
    )
    chosen["issue"] = "C=0.1"
    care = CareHeads(heads, torch.tensor(mean), torch.tensor(std))
    return CareFit(care.eval(), issues, [0.0, t1, t2, 1.0], chosen)


def train(
    out_dir: Path | None = None,
    shared: Path | None = None,
    config: TrainConfig | None = None,
) -> Path:
    """Run both stages, evaluate, and write artifacts plus a model card."""
    config = config or TrainConfig()
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    corpus = load_corpus(shared)
    network = finetune(corpus, config)
    log.info("stage 1 done in %.0fs", time.perf_counter() - started)
    return _finish(
        network,
        corpus,
        config,
        out_dir or artifacts.default_model_dir(),
        started,
        how="`brandcare train` (both stages)",
    )


def refit_care(
    source: Path,
    out_dir: Path | None = None,
    shared: Path | None = None,
    config: TrainConfig | None = None,
) -> Path:
    """Stage 2 only: refit the care heads on an artifact's fine-tuned encoder.

    Seconds instead of minutes: for new care labels (agent corrections) or a change in
    the production quantization. Stage 1 is deterministic given its seed, so this gives
    what ``train`` would.
    """
    config = config or TrainConfig()
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    corpus = load_corpus(shared)
    _, network, _ = artifacts.load(source)
    mark_trainable(network.encoder, frozen_layers=config.frozen_layers, full=not config.lora_rank)
    return _finish(
        network,
        corpus,
        config,
        out_dir or artifacts.default_model_dir(),
        started,
        how=f"`brandcare train --refit-care` (care heads only, encoder from {source})",
    )


def _finish(
    network: TaskNetwork,
    corpus: Corpus,
    config: TrainConfig,
    out_dir: Path,
    started: float,
    how: str,
) -> Path:
    from sentiment.evaluate import evaluate_scorer, write_model_card
    from sentiment.transformer import TransformerScorer, quantize_int8

    # The care heads are fitted on the features of the int8 model that production runs:
    # quantization moves the embeddings a little, and linear heads on 384 dimensions
    # notice.
    production = copy.deepcopy(network)
    quantize_int8(production)
    fit = fit_care(production.eval(), corpus.care_train, config)
    log.info("care heads: %s", fit.chosen)
    date = dt.date.today()
    model_config = artifacts.ModelConfig(
        version=f"care-minilm-l6-{'lora' if config.lora_rank else 'ft'}-{date:%Y%m%d}",
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
        frozen_layers=config.frozen_layers,
        max_length=config.max_length,
        issues=fit.issues,
        care_heads=["needs_reply", "troll", "urgency", "issue"],
        base_sha256=base_checksum(),
        extra={"urgency_knots": fit.urgency_knots, "care_cv": fit.chosen, "seed": config.seed},
    )
    checksum = artifacts.save(out_dir, model_config, network, fit.heads)
    train_seconds = time.perf_counter() - started
    log.info("trained in %.0fs; evaluating", train_seconds)
    reports = {
        "fp32": evaluate_scorer(TransformerScorer(out_dir, quantize=False), corpus),
        "int8": evaluate_scorer(TransformerScorer(out_dir, quantize=True), corpus),
    }
    write_model_card(out_dir, model_config, config, corpus, reports, checksum, train_seconds, how)
    return out_dir
