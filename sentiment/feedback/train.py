"""``brandcare train --feedback``: the heads refitted on the base data plus agents' corrections.

Only heads change. A few dozen corrections cannot move 22M encoder weights without the
encoder forgetting what six datasets taught it, while the heads are linear models on
features that already carry the meaning: refitting them takes a minute and leaves
everything the corrections do not touch where it was.

- Sentiment corrections fine-tune the sentiment head (linear on the pooled embedding)
  from its trained weights, on the base sentiment texts (airline + TweetEval ``val``,
  the stage-1 data) and the customers' posts of the care conversations (unlabeled brand
  mentions, care-labeled ones left out) plus the corrections. Those texts' targets are
  what the trained head says of them (distillation, as in "learning without
  forgetting"): without corrections the head stays exactly what it was, and with them it
  moves only as far as the brand mentions around them allow.
- Trolling and urgency corrections refit those care heads on the care training labels
  plus the corrections, with the source model's regularisation and thresholds.
- When the sentiment head changed, every care head is refitted on the base labels: the
  sentiment probabilities are among their features.

A correction is worth ``weight`` base examples. The weight is chosen per head by
cross-validation on the training corrections (the share of left-out corrections the
head gets right, then the share of all of them it learns with a margin), among the
weights that cost the base data at most ``guard`` (half a point) of accuracy, lighter weights
winning ties. The base is measured on a guard slice of the base sentiment data and on
the care training labels' sentiment (both left out of the sentiment fits), and
out-of-fold on the care training labels for the care heads; never on the validation
sets that ``brandcare evaluate`` reports, which stay untouched for the before/after.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment import artifacts
from sentiment.data import (
    Corpus,
    DatasetMissingError,
    load_care,
    load_corpus,
    read_jsonl,
    shared_dir,
)
from sentiment.encoder import mark_trainable
from sentiment.feedback.card import version_of, write_card
from sentiment.feedback.config import FeedbackConfig, FeedbackError
from sentiment.feedback.corrections import (
    Correction,
    CorrectionSplit,
    of_field,
    read_corrections,
    split_corrections,
)
from sentiment.feedback.evaluate import FeedbackReport, compare
from sentiment.feedback.fits import (
    Hyper,
    balanced_weights,
    binary_margin,
    care_features,
    class_margin,
    distilled_fit,
    hyper_for,
    logistic_fit,
    pooled_cached,
    softmax_margin,
    urgency_margin,
)
from sentiment.feedback.weighing import Guard, Head, HeadChoice, choose_weight
from sentiment.network import TASK_LABELS, URGENCY_LEVELS, CareHeads, LinearHead, TaskNetwork
from sentiment.quantize import quantize_int8
from sentiment.text import clean_text
from sentiment.transformer import TransformerScorer

log = logging.getLogger(__name__)

__all__ = ["FeedbackConfig", "FeedbackError", "FeedbackResult", "train_with_feedback"]


@dataclass(frozen=True)
class FeedbackResult:
    """Where the retrained artifacts are and what the retraining measured."""

    out_dir: Path
    version: str
    choices: tuple[HeadChoice, ...]
    report: FeedbackReport
    split: CorrectionSplit

    @property
    def learned(self) -> bool:
        """Whether any head changed (otherwise the version is the source's)."""
        return any(c.weight > 0 for c in self.choices)


def _sample(items: Sequence[Any], limit: int | None, seed: int) -> list[Any]:
    if limit is None or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(f"{seed}:feedback-base").sample(range(len(items)), limit))
    return [items[i] for i in keep]


def _in_domain_texts(shared: Path | None, exclude: Sequence[str]) -> list[str]:
    """Customers' posts in the care conversations that no care label or correction covers.

    Unlabeled brand mentions: the sentiment head is held to its own answers on them, so
    corrections move it only as far as brand mentions at large allow. Care-labeled texts
    are left out (their hold-out must stay unseen), and so are the corrections' own
    texts; no file, no anchors.
    """
    try:
        root = shared or shared_dir()
        labeled = {clean_text(i.text)[0] for i in load_care(root)}
    except (DatasetMissingError, FileNotFoundError):
        return []
    path = root / "datasets" / "care_conversations" / "dev.jsonl"
    if not path.is_file():
        return []
    labeled |= {clean_text(t)[0] for t in exclude}
    texts: dict[str, None] = {}
    for row in read_jsonl(path):
        company = row.get("dialogHeader", {}).get("company")
        for post in row.get("dialogContent", []):
            text = clean_text(str(post.get("message", "")))[0]
            if post.get("client") != company and text and text not in labeled:
                texts[text] = None
    return list(texts)


def _refit_sentiment(
    encoder: TransformerScorer,
    network: TaskNetwork,
    corpus: Corpus,
    corrections: Sequence[Correction],
    config: FeedbackConfig,
    cache_dir: Path | None,
    source_sha: str,
    anchors: Sequence[str],
) -> HeadChoice | None:
    """Fine-tune the sentiment head on the corrections (in both networks); None: none."""
    if not corrections:
        return None
    labels = TASK_LABELS["sentiment"]
    base = _sample(corpus.train["sentiment"], config.base_limit, config.seed)
    xb = pooled_cached(encoder, [e.text for e in base], cache_dir, f"{source_sha}|int8")
    # Brand mentions with no labels keep the head's answers in the corrections' own domain.
    xa = pooled_cached(encoder, anchors, cache_dir, f"{source_sha}|int8")
    xd = np.concatenate([xb, xa]).astype(np.float64)
    xc = pooled_cached(encoder, [c.text for c in corrections], None, "").astype(np.float64)
    yc = np.array([labels.index(c.label) for c in corrections])
    rows = np.arange(len(xd))
    held = random.Random(f"{config.seed}:guard").sample(
        range(len(base)), max(1, round(len(base) * config.guard_fraction))
    )
    guard_rows = np.array(sorted(held))
    rest = np.setdiff1d(rows, guard_rows)
    yb = np.array([labels.index(e.label) for e in base])
    # In-domain guard: the care training labels' sentiment (texts no head was fitted on).
    care = corpus.care_train
    xg = pooled_cached(encoder, [i.text for i in care], None, "").astype(np.float64)
    yg = np.array([labels.index(i.sentiment) for i in care])
    head = _linear(network.heads["sentiment"])
    problem = Head(
        "sentiment",
        xc,
        yc,
        distilled_fit(
            head.weight.detach().double().numpy(),
            head.bias.detach().double().numpy(),
            xd,
            xc,
            yc,
        ),
        softmax_margin,
        (
            Guard("base slice", ((rest, xd[guard_rows], yb[guard_rows]),)),
            Guard("care train", ((rest, xg, yg),)),
        ),
        rest,
    )
    choice = choose_weight(problem, config)
    log.info("%s", choice.describe())
    if choice.weight > 0:
        weight, bias = problem.train(rows, np.arange(len(corrections)), choice.weight)
        for net in (network, encoder.network):
            with torch.no_grad():
                _linear(net.heads["sentiment"]).weight.copy_(torch.tensor(weight))
                _linear(net.heads["sentiment"]).bias.copy_(torch.tensor(bias))
    return choice


#: Care heads, and the corrected label each learns from (None: no corrections).
_CARE_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("needs_reply", None),
    ("troll", "troll"),
    ("urgency", "urgency_level"),
    ("issue", None),
)


def _care_margin(
    name: str, hyper: Hyper, knots: Sequence[float]
) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
    """How a care head's answers are judged: urgency by level, binary heads by threshold."""
    if name == "urgency":
        return urgency_margin(float(knots[1]), float(knots[2]))
    if hyper.threshold is not None:
        return binary_margin(hyper.threshold)
    return class_margin


def _refit_care(
    production: TaskNetwork,
    source_config: artifacts.ModelConfig,
    care: CareHeads,
    corpus: Corpus,
    corrections: Sequence[Correction],
    sentiment_changed: bool,
    config: FeedbackConfig,
) -> tuple[CareHeads, list[HeadChoice]]:
    """Refit the care heads with corrections (all of them if their features changed)."""
    from sentiment.train import _folds

    heads = {
        name: LinearHead(
            _linear(care.linears[name]).weight.detach().clone(),
            _linear(care.linears[name]).bias.detach().clone(),
        )
        for name in source_config.care_heads
    }
    mean: torch.Tensor = care.mean.detach().clone()  # type: ignore[operator]
    std: torch.Tensor = care.std.detach().clone()  # type: ignore[operator]
    by_field = {f: of_field(corrections, f) for _, f in _CARE_FIELDS if f}
    choices: list[HeadChoice] = []
    if not sentiment_changed and not any(by_field.values()):
        return CareHeads(heads, mean, std).eval(), choices
    items = corpus.care_train
    max_length = source_config.max_length
    raw = care_features(production, [i.text for i in items], max_length)
    if sentiment_changed:
        # The sentiment probabilities are features: standardise as stage 2 does.
        mean = torch.tensor(raw.mean(axis=0))
        std = torch.tensor(raw.std(axis=0) + 1e-6)
    mu, sigma = mean.double().numpy(), std.double().numpy()
    x = (raw - mu) / sigma
    folds = _folds([f"{i.troll}{i.urgency}{i.needs_reply}" for i in items], 5, config.seed)
    every = np.arange(len(items))
    targets = {
        "needs_reply": np.array([int(i.needs_reply) for i in items]),
        "troll": np.array([int(i.troll) for i in items]),
        "urgency": np.array([URGENCY_LEVELS.index(i.urgency) for i in items]),
        "issue": np.array([source_config.issues.index(i.issue) for i in items]),
    }
    knots = source_config.extra.get("urgency_knots", [0.0, 1 / 3, 2 / 3, 1.0])
    for name, field_name in _CARE_FIELDS:
        corr = by_field.get(field_name or "", [])
        if not corr and not sentiment_changed:
            continue
        hyper = hyper_for(source_config, name)
        y = targets[name]
        xc = (
            (care_features(production, [c.text for c in corr], max_length) - mu) / sigma
            if corr
            else np.zeros((0, x.shape[1]))
        )
        yc = np.array(
            [
                URGENCY_LEVELS.index(c.label) if name == "urgency" else c.label == "true"
                for c in corr
            ],
            dtype=np.int64,
        )
        base_weights = balanced_weights(y, int(y.max()) + 1) if hyper.balanced else np.ones(len(y))
        problem = Head(
            name,
            xc,
            yc,
            logistic_fit(hyper.c, x, y, base_weights, xc, yc),
            _care_margin(name, hyper, knots),
            (
                Guard(
                    "care out-of-fold", tuple((np.setdiff1d(every, f), x[f], y[f]) for f in folds)
                ),
            ),
            every,
        )
        weight = 0.0
        if corr:
            choice = choose_weight(problem, config)
            log.info("%s", choice.describe())
            choices.append(choice)
            weight = choice.weight
        if weight == 0 and not sentiment_changed:
            continue  # nothing to learn here: the source head, bit for bit
        model = problem.train(every, np.arange(len(corr)), weight)
        if model.coef_.shape[0] != heads[name].weight.shape[0]:
            raise FeedbackError(
                f"the refitted {name} head has {model.coef_.shape[0]} outputs, the source "
                f"{heads[name].weight.shape[0]}: the care labels and the artifact disagree"
            )
        bias = model.intercept_
        if hyper.threshold is not None:
            # As stage 2 does: p >= 0.5 now means p_raw >= the tuned threshold.
            bias = bias - math.log(hyper.threshold / (1 - hyper.threshold))
        heads[name] = LinearHead(
            torch.tensor(model.coef_, dtype=torch.float32),
            torch.tensor(bias, dtype=torch.float32),
        )
    return CareHeads(heads, mean.float(), std.float()).eval(), choices


def train_with_feedback(
    source: Path,
    corrections_file: Path,
    out_dir: Path | None = None,
    shared: Path | None = None,
    config: FeedbackConfig | None = None,
    cache_dir: Path | None = None,
    corpus: Corpus | None = None,
) -> FeedbackResult:
    """Refit the heads of ``source`` on the base data plus the training corrections.

    Writes a complete artifact folder (``out_dir``, default a new folder beside
    ``source`` named after the new version) with a model card that records the
    corrections file's checksum, the counts, the chosen weights and the before/after
    report; returns what it measured. ``corpus`` replaces the shared datasets' splits
    (``brandcare bench feedback`` keeps its simulated inbox out of the care hold-out).
    """
    config = config or FeedbackConfig()
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    corrections = read_corrections(corrections_file)
    if not corrections:
        raise FeedbackError(f"{corrections_file} holds no corrections: nothing to learn")
    split = split_corrections(corrections, config.heldout_fraction, config.split_seed)
    if not split.train:
        raise FeedbackError(
            f"all {len(corrections)} corrections in {corrections_file} fell in the held-out "
            "slice: export more corrections (or lower the held-out fraction)"
        )
    corpus = corpus or load_corpus(shared)
    # The "before" scorer is loaded first: ``out_dir`` may be ``source`` itself.
    before = TransformerScorer(source, quantize=True)
    source_config, network, care = artifacts.load(source)
    mark_trainable(
        network.encoder,
        frozen_layers=source_config.frozen_layers,
        full=not source_config.lora_rank,
    )
    # The features come from the int8 encoder production runs (as stage 2 fits them).
    encoder = TransformerScorer.from_network(source_config, copy.deepcopy(network), care)
    quantize_int8(encoder.network)
    encoder.quantized = True
    production = encoder.network.eval()
    source_sha = artifacts.file_sha256(source / artifacts.WEIGHTS_FILE)
    choices: list[HeadChoice] = []
    anchors = _in_domain_texts(shared, [c.text for c in corrections])
    sentiment = _refit_sentiment(
        encoder,
        network,
        corpus,
        of_field(split.train, "sentiment"),
        config,
        cache_dir,
        source_sha,
        anchors,
    )
    if sentiment is not None:
        choices.append(sentiment)
    new_care, care_choices = _refit_care(
        production,
        source_config,
        care,
        corpus,
        split.train,
        sentiment is not None and sentiment.weight > 0,
        config,
    )
    choices += care_choices

    learned = any(c.weight > 0 for c in choices)
    if not learned:
        log.warning(
            "no head learned from these corrections (none showed a pattern cross-validation "
            "could confirm within the guards): the model stays %s",
            source_config.version,
        )
    # Same heads, same version: scores of an unchanged model are not a new model's.
    version = (
        version_of(source_config.version, source_sha, network, new_care)
        if learned
        else source_config.version
    )
    out_dir = out_dir or source.parent / version
    new_config = dataclasses.replace(
        source_config,
        version=version,
        extra={
            **source_config.extra,
            "feedback": {
                "source_version": source_config.version,
                "source_dir": str(source.resolve()),
                "source_sha256": source_sha,
                "file": corrections_file.name,
                "file_sha256": artifacts.file_sha256(corrections_file),
                "corrections": len(corrections),
                "train": len(split.train),
                "heldout": len(split.heldout),
                "heldout_dropped": split.dropped,
                "heldout_fraction": config.heldout_fraction,
                "split_seed": config.split_seed,
                "base_limit": config.base_limit,
                "anchors": len(anchors),
                "weights": {c.head: c.weight for c in choices},
            },
        },
    )
    checksum = artifacts.save(out_dir, new_config, network, new_care)
    seconds = time.perf_counter() - started
    log.info("heads refitted in %.0fs; evaluating before and after", seconds)
    after = TransformerScorer(out_dir, quantize=True)
    report = compare(before, after, corpus, split, limit=config.eval_limit)
    write_card(out_dir, new_config, corpus, report, split, choices, checksum, seconds, config)
    return FeedbackResult(out_dir, version, tuple(choices), report, split)


def _linear(module: torch.nn.Module) -> torch.nn.Linear:
    if not isinstance(module, torch.nn.Linear):
        raise FeedbackError(f"expected a linear head, found {type(module).__name__}")
    return module
