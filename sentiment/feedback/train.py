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
import datetime as dt
import hashlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment import artifacts
from sentiment.corrections import (
    HELDOUT_FRACTION,
    LABELS,
    SPLIT_SEED,
    Correction,
    CorrectionSplit,
    read_corrections,
    split_corrections,
)
from sentiment.data import (
    Corpus,
    DatasetMissingError,
    load_care,
    load_corpus,
    read_jsonl,
    shared_dir,
)
from sentiment.encoder import mark_trainable
from sentiment.feedback_eval import FeedbackReport, compare, format_report
from sentiment.network import TASK_LABELS, URGENCY_LEVELS, CareHeads, LinearHead, TaskNetwork
from sentiment.text import clean_text
from sentiment.transformer import TransformerScorer, quantize_int8

log = logging.getLogger(__name__)

#: How far past its decision point a head must put a training correction to count it
#: learned: half a logit (a probability of 0.5 becomes 0.62), a twentieth of the urgency
#: scale. Scoring in production batches texts differently, and int8 activations move a
#: little with the batch: a correction learned by a hair may not hold there.
LEARNED_MARGIN = 0.5

#: How many base examples one correction may be worth; 0 (ignore them) is the fallback.
WEIGHTS: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)


class FeedbackError(ValueError):
    """The corrections or the source artifact do not allow a retraining."""


@dataclass(frozen=True)
class FeedbackConfig:
    """How corrections are split, weighed and guarded; the defaults are the CLI's."""

    heldout_fraction: float = HELDOUT_FRACTION
    split_seed: int = SPLIT_SEED
    weights: tuple[float, ...] = WEIGHTS
    #: Largest fall of base accuracy (guard slice, care out-of-fold) a weight may cost.
    #: Half the report's 1-point tolerance: the guard sets are smaller than the validation
    #: sets, and a weight at the guards' edge was measured to land just past it there.
    guard: float = 0.005
    folds: int = 5
    #: A head changes only if cross-validation gets this many more left-out corrections
    #: right than without them (and this share of them): a pattern, not noise.
    min_gain: int = 2
    min_gain_share: float = 0.1
    #: Share of the base sentiment data kept out of the sentiment fits to guard them.
    guard_fraction: float = 0.1
    #: Base sentiment examples used (seeded sample); None: all. The test uses 1,000.
    base_limit: int | None = None
    #: Items per validation set in the before/after report; None: all.
    eval_limit: int | None = None
    seed: int = 13
    threads: int = 2


@dataclass(frozen=True)
class HeadChoice:
    """The weight chosen for one head's corrections, and what it was chosen on."""

    head: str
    corrections: int
    weight: float
    #: Out-of-fold share of training corrections right (None: fewer than two).
    cv: float | None
    #: Share of training corrections learned (past LEARNED_MARGIN) when trained on all.
    fit: float
    #: Accuracy on each guard set at this weight, and without corrections.
    guards: tuple[str, ...]
    guard: tuple[float, ...]
    guard_at_zero: tuple[float, ...]
    tried: tuple[tuple[float, float | None, float, tuple[float, ...]], ...] = field(default=())

    def describe(self) -> str:
        """One line for logs and the model card."""
        cv = "n/a" if self.cv is None else f"{self.cv:.3f}"
        guards = ", ".join(
            f"{name} {g:.3f} (at 0: {g0:.3f})"
            for name, g, g0 in zip(self.guards, self.guard, self.guard_at_zero, strict=True)
        )
        return (
            f"{self.head}: {self.corrections} corrections, weight {self.weight:g}, cv {cv}, "
            f"fit {self.fit:.3f}; guards: {guards}"
        )


@dataclass(frozen=True)
class _Guard:
    """Data a refit must not get worse on: (base rows trained on, features, labels) parts."""

    name: str
    parts: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


@dataclass
class _Head:
    """One head's refit problem: base rows, correction rows, how to fit and decide."""

    name: str
    xc: np.ndarray
    yc: np.ndarray
    #: (base rows, correction rows, weight of a correction) -> a fitted model.
    fit: Callable[[np.ndarray, np.ndarray, float], Any]
    #: (model, features, labels) -> how far each answer is on the right side of the
    #: decision point (negative: wrong), in logits (urgency: tenths of its scale).
    margin: Callable[[Any, np.ndarray, np.ndarray], np.ndarray]
    guards: tuple[_Guard, ...]
    #: Base rows trained on beside the corrections when measuring on corrections.
    corr_base: np.ndarray
    _memo: dict[tuple[float, bytes, bytes], Any] = field(default_factory=dict)

    def train(self, base: np.ndarray, corr: np.ndarray, weight: float) -> Any:
        if weight <= 0:
            corr = corr[:0]
        key = (weight, base.tobytes(), corr.tobytes())
        if key not in self._memo:
            self._memo[key] = self.fit(base, corr, weight)
        return self._memo[key]

    def guarded(self, weight: float, corr: np.ndarray) -> tuple[float, ...]:
        """Accuracy on each guard set of the fits with the corrections at ``weight``."""
        out = []
        for guard in self.guards:
            hits = total = 0
            for rows, x, y in guard.parts:
                hits += int(np.sum(self.margin(self.train(rows, corr, weight), x, y) > 0))
                total += len(y)
            out.append(hits / max(total, 1))
        return tuple(out)


def _choose(head: _Head, config: FeedbackConfig) -> HeadChoice:
    """The weight that learns the corrections best without costing the base accuracy."""
    n = len(head.yc)
    every = np.arange(n)
    k = min(config.folds, n)
    order = np.random.default_rng(config.seed).permutation(n)
    folds = [np.sort(order[i::k]) for i in range(k)] if n >= 2 else []
    tried: list[tuple[float, float | None, float, tuple[float, ...]]] = []
    for weight in sorted({0.0, *config.weights}):
        guard = head.guarded(weight, every)
        model = head.train(head.corr_base, every, weight)
        fit = float(np.mean(head.margin(model, head.xc, head.yc) >= LEARNED_MARGIN))
        cv: float | None = None
        if folds:
            right = 0
            for fold in folds:
                model = head.train(head.corr_base, np.setdiff1d(every, fold), weight)
                right += int(np.sum(head.margin(model, head.xc[fold], head.yc[fold]) > 0))
            cv = right / n
        tried.append((weight, cv, fit, guard))
        log.info("%s weight %g: cv %s fit %.3f guards %s", head.name, weight, cv, fit, guard)
    at_zero, cv_zero = tried[0][3], tried[0][1]
    needed = max(config.min_gain, config.min_gain_share * n)

    def shown(t: tuple[float, float | None, float, tuple[float, ...]]) -> bool:
        # Evidence: more left-out corrections right than without them, by ``needed``.
        if t[0] == 0:
            return True
        return t[1] is not None and cv_zero is not None and (t[1] - cv_zero) * n >= needed - 1e-9

    allowed = [
        t
        for t in tried
        if shown(t)
        and all(g >= g0 - config.guard - 1e-12 for g, g0 in zip(t[3], at_zero, strict=True))
    ]
    weight, cv, fit, guard = max(allowed, key=lambda t: (t[1] or 0.0, t[2], -t[0]))
    names = tuple(g.name for g in head.guards)
    return HeadChoice(head.name, n, weight, cv, fit, names, guard, at_zero, tuple(tried))


# -- the heads' fits -------------------------------------------------------------------


def _balanced(y: np.ndarray, classes: int) -> np.ndarray:
    """Per-row weights n / (classes * count): scikit-learn's "balanced", mean 1."""
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    weights: np.ndarray = len(y) / (classes * np.maximum(counts[y], 1.0))
    return weights


def _distilled_fit(
    weight0: np.ndarray,
    bias0: np.ndarray,
    xb: np.ndarray,
    xc: np.ndarray,
    yc: np.ndarray,
    max_iter: int = 100,
) -> Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]:
    """A softmax head fitted from (weight0, bias0) that keeps its answers on the base texts.

    The base texts' targets are the trained head's own probabilities, not their labels:
    without corrections the fit is the trained head itself, exactly, and corrections
    pull it toward the agents' labels only as far as the base texts let them.
    """
    soft = torch.softmax(torch.tensor(xb @ weight0.T + bias0, dtype=torch.float64), dim=-1)
    hard = torch.nn.functional.one_hot(torch.tensor(yc, dtype=torch.long), soft.shape[1])

    def fit(base: np.ndarray, corr: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
        features = torch.tensor(np.concatenate([xb[base], xc[corr]]), dtype=torch.float64)
        targets = torch.cat([soft[torch.from_numpy(base)], hard[torch.from_numpy(corr)].double()])
        share = torch.cat(
            [torch.ones(len(base), dtype=torch.float64), torch.full((len(corr),), weight)]
        )
        share = share / share.sum()
        w = torch.tensor(weight0, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(bias0, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [w, b], max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logp = torch.log_softmax(features @ w.T + b, dim=-1)
            loss = -((targets * logp).sum(dim=-1) * share).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        if len(corr):
            optimizer.step(closure)  # type: ignore[no-untyped-call]
        return w.detach().numpy(), b.detach().numpy()

    return fit


def _softmax_margin(
    model: tuple[np.ndarray, np.ndarray], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Logit of the right class minus the best other one."""
    logits = x @ model[0].T + model[1]
    right = logits[np.arange(len(y)), y]
    logits[np.arange(len(y)), y] = -np.inf
    margin: np.ndarray = right - logits.max(axis=1)
    return margin


def _logistic_fit(
    c: float, xb: np.ndarray, yb: np.ndarray, wb: np.ndarray, xc: np.ndarray, yc: np.ndarray
) -> Callable[[np.ndarray, np.ndarray, float], Any]:
    """Stage 2's logistic regression, on base rows plus weighted correction rows."""

    def fit(base: np.ndarray, corr: np.ndarray, weight: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=3000)
        model.fit(
            np.concatenate([xb[base], xc[corr]]),
            np.concatenate([yb[base], yc[corr]]),
            sample_weight=np.concatenate([wb[base], np.full(len(corr), weight)]),
        )
        return model

    return fit


def _binary_margin(threshold: float) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
    """Logit distance past the tuned threshold, toward the right answer."""
    at = math.log(threshold / (1 - threshold))

    def margin(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = model.decision_function(x) - at
        signed: np.ndarray = np.where(y == 1, z, -z)
        return signed

    return margin


def _urgency_margin(t1: float, t2: float) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
    """Distance of the raw urgency into the right level's band, in tenths of the scale."""

    def margin(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        probs = model.predict_proba(x)
        raw = 0.5 * probs[:, 1] + probs[:, 2]
        inside = np.where(
            y == 0, t1 - raw, np.where(y == 2, raw - t2, np.minimum(raw - t1, t2 - raw))
        )
        scaled: np.ndarray = 10 * inside
        return scaled

    return margin


def _class_margin(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-probability of the right class minus the best other one (a multi-class head)."""
    logp = model.predict_log_proba(x)
    right = logp[np.arange(len(y)), y].copy()
    logp[np.arange(len(y)), y] = -np.inf
    margin: np.ndarray = right - logp.max(axis=1)
    return margin


@dataclass(frozen=True)
class _Hyper:
    c: float
    balanced: bool
    threshold: float | None


_CV = re.compile(
    r"C=(?P<c>[0-9.eE+-]+)(?: balanced=(?P<balanced>True|False))?(?: threshold=(?P<t>[0-9.]+))?"
)


def _hyper(config: artifacts.ModelConfig, head: str) -> _Hyper:
    """The regularisation and threshold cross-validation chose for a care head."""
    text = str(config.extra.get("care_cv", {}).get(head, ""))
    found = _CV.match(text)
    if not found:
        raise FeedbackError(
            f"the source model {config.version} does not record its {head} head's settings "
            "(care_cv in config.json): refit it with `brandcare train --refit-care` first"
        )
    threshold = found.group("t")
    return _Hyper(
        float(found.group("c")),
        found.group("balanced") == "True",
        None if threshold is None else float(threshold),
    )


# -- features ---------------------------------------------------------------------------


def _pooled(
    encoder: TransformerScorer, texts: Sequence[str], cache: Path | None, salt: str
) -> np.ndarray:
    """Pooled embeddings of cleaned texts, cached on disk under a checksum of all inputs."""
    cleaned = [clean_text(t)[0] for t in texts]
    if not cleaned:
        return np.zeros((0, 384), dtype=np.float32)
    path = None
    if cache is not None:
        digest = hashlib.sha256(f"{salt}|{torch.__version__}".encode())
        for text in cleaned:
            digest.update(text.encode("utf-8", "replace") + b"\x00")
        path = cache / f"pooled-{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            cached: np.ndarray = np.load(path)
            if cached.shape == (len(cleaned), 384):
                return cached
    started = time.perf_counter()
    pooled = encoder.encode(cleaned).pooled.numpy().astype(np.float32)
    log.info("encoded %d texts in %.0fs", len(cleaned), time.perf_counter() - started)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, pooled)
    return pooled


def _care_features(network: TaskNetwork, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Raw care features as stage 2 computed them (same batching, same numbers)."""
    from sentiment.train import _features

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return _features(network, texts, max_length)


# -- the retraining ---------------------------------------------------------------------


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


def _by_field(corrections: Sequence[Correction], name: str) -> list[Correction]:
    return [c for c in corrections if c.field == name]


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
    xb = _pooled(encoder, [e.text for e in base], cache_dir, f"{source_sha}|int8")
    # Brand mentions with no labels keep the head's answers in the corrections' own domain.
    xa = _pooled(encoder, anchors, cache_dir, f"{source_sha}|int8")
    xd = np.concatenate([xb, xa]).astype(np.float64)
    xc = _pooled(encoder, [c.text for c in corrections], None, "").astype(np.float64)
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
    xg = _pooled(encoder, [i.text for i in care], None, "").astype(np.float64)
    yg = np.array([labels.index(i.sentiment) for i in care])
    head = _linear(network.heads["sentiment"])
    problem = _Head(
        "sentiment",
        xc,
        yc,
        _distilled_fit(
            head.weight.detach().double().numpy(),
            head.bias.detach().double().numpy(),
            xd,
            xc,
            yc,
        ),
        _softmax_margin,
        (
            _Guard("base slice", ((rest, xd[guard_rows], yb[guard_rows]),)),
            _Guard("care train", ((rest, xg, yg),)),
        ),
        rest,
    )
    choice = _choose(problem, config)
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
    name: str, hyper: _Hyper, knots: Sequence[float]
) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
    """How a care head's answers are judged: urgency by level, binary heads by threshold."""
    if name == "urgency":
        return _urgency_margin(float(knots[1]), float(knots[2]))
    if hyper.threshold is not None:
        return _binary_margin(hyper.threshold)
    return _class_margin


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
    by_field = {f: _by_field(corrections, f) for _, f in _CARE_FIELDS if f}
    choices: list[HeadChoice] = []
    if not sentiment_changed and not any(by_field.values()):
        return CareHeads(heads, mean, std).eval(), choices
    items = corpus.care_train
    max_length = source_config.max_length
    raw = _care_features(production, [i.text for i in items], max_length)
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
        hyper = _hyper(source_config, name)
        y = targets[name]
        xc = (
            (_care_features(production, [c.text for c in corr], max_length) - mu) / sigma
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
        base_weights = _balanced(y, int(y.max()) + 1) if hyper.balanced else np.ones(len(y))
        problem = _Head(
            name,
            xc,
            yc,
            _logistic_fit(hyper.c, x, y, base_weights, xc, yc),
            _care_margin(name, hyper, knots),
            (
                _Guard(
                    "care out-of-fold", tuple((np.setdiff1d(every, f), x[f], y[f]) for f in folds)
                ),
            ),
            every,
        )
        weight = 0.0
        if corr:
            choice = _choose(problem, config)
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
        _by_field(split.train, "sentiment"),
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
        _version(source_config.version, source_sha, network, new_care)
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
    _write_card(out_dir, new_config, corpus, report, split, choices, checksum, seconds, config)
    return FeedbackResult(out_dir, version, tuple(choices), report, split)


def _linear(module: torch.nn.Module) -> torch.nn.Linear:
    if not isinstance(module, torch.nn.Linear):
        raise FeedbackError(f"expected a linear head, found {type(module).__name__}")
    return module


def _version(source_version: str, source_sha: str, network: TaskNetwork, care: CareHeads) -> str:
    """The source's version plus a hash of what changed: a new head, a new version."""
    digest = hashlib.sha256(source_sha.encode())
    tensors = {f"heads.{k}": v for k, v in network.heads.state_dict().items()}
    tensors |= {f"care.{k}": v for k, v in care.state_dict().items()}
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().float().contiguous().numpy().tobytes())
    return f"{source_version.split('-fb-', maxsplit=1)[0]}-fb-{digest.hexdigest()[:10]}"


def _outcome(choices: Sequence[HeadChoice]) -> str:
    changed = [c.head for c in choices if c.weight > 0]
    if not changed:
        return "No head learned from these corrections: the model is the source's."
    return f"Heads that learned from the corrections: {', '.join(changed)}."


def _write_card(
    out_dir: Path,
    model: artifacts.ModelConfig,
    corpus: Any,
    report: FeedbackReport,
    split: CorrectionSplit,
    choices: Sequence[HeadChoice],
    checksum: str,
    seconds: float,
    config: FeedbackConfig,
) -> None:
    from sentiment.evaluate import format_table

    fb = model.extra["feedback"]
    reports = {
        f"before ({report.before_version})": list(report.validation_before),
        f"after ({report.after_version})": list(report.validation_after),
    }
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {name: [dataclasses.asdict(m) for m in metrics] for name, metrics in reports.items()},
            indent=2,
        )
        + "\n"
    )
    (out_dir / "MODEL_CARD.md").write_text(
        f"""# Model card: {model.version}

Produced by `brandcare train --feedback {fb["file"]}` (heads only, on
{fb["source_version"]}) on {dt.date.today().isoformat()} in {seconds / 60:.1f} minutes on
a CPU. Weights SHA-256 `{checksum}`. Base encoder, stage-1 and stage-2 data and splits are
those of the source model (see its card).

## Metrics (held-out data, int8 production path, before and after the corrections)

Texts trained on as corrections are left out.
{format_table(reports)}
"""
    )
    counts = {name: len(_by_field(split.train, name)) for name in LABELS}
    held = {name: len(_by_field(split.heldout, name)) for name in LABELS}
    rows = "\n".join(
        f"| {c.head} | {c.corrections} | {c.weight:g} | "
        f"{'n/a' if c.cv is None else f'{c.cv:.3f}'} | {c.fit:.3f} | "
        + ", ".join(
            f"{name} {g:.3f} ({g0:.3f})"
            for name, g, g0 in zip(c.guards, c.guard, c.guard_at_zero, strict=True)
        )
        + " |"
        for c in choices
    )
    section = f"""
## Learning from corrections
- Source: `{fb["source_version"]}` (weights SHA-256 `{fb["source_sha256"]}`); its encoder
  is unchanged, only heads were refitted. {_outcome(choices)}
- Corrections: `{fb["file"]}`, SHA-256 `{fb["file_sha256"]}`: {fb["corrections"]} corrected
  labels; {len(split.train)} trained on ({json.dumps(counts)}), {len(split.heldout)} held out
  ({json.dumps(held)}; {config.heldout_fraction:.0%} of posts by a hash of platform and post
  id, seed {config.split_seed}), {split.dropped} held-out ones dropped as duplicates of
  training texts.
- Base data: the sentiment head on {"all" if config.base_limit is None else config.base_limit}
  stage-1 sentiment texts ({config.guard_fraction:.0%} of them the guard slice) and
  {fb["anchors"]} unlabeled customer posts of the care conversations, whose targets are
  the trained head's own probabilities; the care heads on the {len(corpus.care_train)}
  care training labels with the source's regularisation and thresholds.
- Weight of a correction (in base examples), per head, chosen by {config.folds}-fold
  cross-validation on the training corrections among {list(config.weights)}, allowed to cost
  the base at most {config.guard * 100:g} point of accuracy (guard slice / care out-of-fold):

| head | corrections | weight | cv | fit | guards: accuracy (at weight 0) |
|---|---|---|---|---|---|
{rows or "| (none) | 0 | | | | |"}

### Before and after
{format_report(report, split)}

- Limits: urgency corrections are the level an agent saw, which the policy raised for
  authors with a large reach; the head learns it as the text's own urgency. A sentiment
  correction of a post the sarcasm rule flipped teaches the head, not the rule.
"""
    card = out_dir / "MODEL_CARD.md"
    card.write_text(card.read_text() + section)
    (out_dir / "feedback.json").write_text(
        json.dumps(
            {
                **report.as_dict(),
                "choices": [dataclasses.asdict(c) for c in choices],
                "created": dt.date.today().isoformat(),
            },
            indent=2,
        )
        + "\n"
    )
