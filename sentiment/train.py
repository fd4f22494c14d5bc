"""``brandcare train``: reproduce the scorer's artifacts from ``../shared/datasets``.

Three steps, all seeded:

1. Multi-task fine-tuning of every weight of all-MiniLM-L6-v2 over sentiment (airline +
   TweetEval's full train split), offensive, hate, irony, emotion and complaint reason.
   Cached by a digest of its config and data (``cached_finetune``): about 40 minutes on
   two cores, and independent of the care data.
2. The encoder keeps training on the care decisions (``sentiment.care_training``): the
   care labels, the training part of ``care_judgment`` and our written posts, with
   heads for needs-reply, trolling, abuse, urgency, issue, the care signals and
   sentiment, and a rehearsal of the stage-1 tasks.
3. Decision thresholds are tuned on a tune split the heads never trained on, with the
   int8 encoder production runs (``sentiment.calibration``), and folded into the heads
   so that the policy's plain 0.5 (and 1/3, 2/3 for urgency levels) are the tuned
   decision points.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentiment import artifacts
from sentiment.care_training import CareConfig
from sentiment.data import SIGNAL_KINDS, Corpus, load_corpus
from sentiment.encoder import (
    base_checksum,
    inject_lora,
    load_base_encoder,
    load_tokenizer,
    mark_trainable,
    pad_batch,
)
from sentiment.judgment import Decide
from sentiment.network import TASK_LABELS, TaskNetwork
from sentiment.recipe import TrainConfig

log = logging.getLogger(__name__)


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


def stage1_digest(corpus: Corpus, config: TrainConfig) -> str:
    """What stage 1's result depends on: its config, its data and the base encoder."""
    import hashlib

    digest = hashlib.sha256(repr(config).encode())
    digest.update(base_checksum().encode())
    for task, examples in sorted(corpus.train.items()):
        digest.update(task.encode())
        for ex in examples:
            digest.update(f"{ex.id}\t{ex.label}\t{ex.text}\n".encode())
    return digest.hexdigest()[:16]


def cached_finetune(corpus: Corpus, config: TrainConfig, cache_dir: Path | None) -> TaskNetwork:
    """Stage 1, or its saved result when config and data are unchanged.

    Stage 1 is most of ``brandcare train``'s time (about an hour on two cores) and does
    not depend on the care data, so changing the care recipe reruns stage 2 only.
    """
    path = None
    if cache_dir is not None:
        path = cache_dir / f"stage1-{stage1_digest(corpus, config)}.pt"
        if path.is_file():
            log.info("stage 1 from cache %s", path)
            network = TaskNetwork(load_base_encoder())
            network.load_state_dict(torch.load(path, weights_only=True))
            return network.eval()
    network = finetune(corpus, config)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(network.state_dict(), path)
        log.info("stage 1 saved to %s", path)
    return network


# -- stage 2: the care decisions ----------------------------------------------------------


def _features(network: TaskNetwork, texts: Sequence[str], max_length: int) -> np.ndarray:
    """The care heads' input: the pooled embedding (feedback refits read it too)."""
    from sentiment.calibration import pooled_features

    return pooled_features(network, texts, max_length).numpy().astype(np.float32)


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


#: What a feedback refit (``sentiment.feedback.train``) uses when it refits a care head
#: as a logistic regression on the pooled embedding of this encoder.
FEEDBACK_HYPER = {
    "needs_reply": "C=0.1 balanced=True threshold=0.500",
    "troll": "C=0.1 balanced=True threshold=0.500",
    "urgency": "C=0.1 balanced=False",
    "issue": "C=0.1",
}


def model_version(date: dt.date, corpus: Corpus, config: TrainConfig, care: CareConfig) -> str:
    """The model's name: the day it was made and a digest of everything it was made from.

    Scores are stored per (mention, model version): two models trained on one day from
    different data must never share a name, and the same command on the same data gives
    the same name again.
    """
    import hashlib

    digest = hashlib.sha256(stage1_digest(corpus, config).encode())
    digest.update(repr(care).encode())
    for item in corpus.care_train:
        digest.update(f"{item.id}\t{item.text}\t{item!r}\n".encode())
    return f"care-minilm-l6-ft2-{date:%Y%m%d}-{digest.hexdigest()[:8]}"


def train(
    out_dir: Path | None = None,
    shared: Path | None = None,
    config: TrainConfig | None = None,
    care_config: CareConfig | None = None,
    *,
    cache_dir: Path | None = None,
    decide: Decide | None = None,
) -> Path:
    """Run both stages, evaluate, and write artifacts plus a model card.

    ``decide`` turns scores into the care team's decision for the judgment table (the
    app passes ``responders.policy``); without it the table reads the raw scores.
    """
    from sentiment.calibration import calibrate
    from sentiment.care_training import finetune_care
    from sentiment.data import split_tune

    config = config or TrainConfig()
    care_config = care_config or CareConfig()
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    corpus = load_corpus(shared)
    network = cached_finetune(corpus, config, cache_dir)
    stage1 = time.perf_counter() - started
    log.info("stage 1 ready after %.0fs", stage1)
    fit_items, tune_items = split_tune(corpus.care_train)
    model = finetune_care(network, fit_items, corpus, care_config)
    calibrated = calibrate(model, tune_items, config.max_length)
    log.info("care thresholds: %s", calibrated.chosen)
    date = dt.date.today()
    model_config = artifacts.ModelConfig(
        version=model_version(date, corpus, config, care_config),
        lora_rank=0,
        lora_alpha=config.lora_alpha,
        frozen_layers=0,
        max_length=config.max_length,
        issues=list(model.issues),
        care_heads=list(model.care.keys()),
        base_sha256=base_checksum(),
        extra={
            "urgency_knots": calibrated.urgency_knots,
            "signal_kinds": list(SIGNAL_KINDS),
            "thresholds": calibrated.chosen,
            "care_cv": FEEDBACK_HYPER,
            "seed": config.seed,
            "care_seed": care_config.seed,
        },
    )
    out = out_dir or artifacts.default_model_dir()
    checksum = artifacts.save(out, model_config, model.network, calibrated.heads)
    train_seconds = time.perf_counter() - started
    log.info("trained in %.0fs; evaluating", train_seconds)
    return _report(
        out, model_config, config, care_config, corpus, checksum, train_seconds, stage1, decide
    )


def _report(
    out: Path,
    model_config: artifacts.ModelConfig,
    config: TrainConfig,
    care_config: CareConfig,
    corpus: Corpus,
    checksum: str,
    train_seconds: float,
    stage1_seconds: float,
    decide: Decide | None,
) -> Path:
    from sentiment.evaluate import evaluate_scorer, write_model_card
    from sentiment.judgment import evaluate_judgment
    from sentiment.transformer import TransformerScorer

    reports = {}
    judgments = {}
    for name, quantize in (("fp32", False), ("int8", True)):
        scorer = TransformerScorer(out, quantize=quantize)
        reports[name] = evaluate_scorer(scorer, corpus)
        judgments[name] = evaluate_judgment(scorer, corpus.judgment_heldout, decide)
    write_model_card(
        out,
        model_config,
        config,
        care_config,
        corpus,
        reports,
        judgments,
        checksum,
        train_seconds,
        stage1_seconds,
    )
    return out
