"""How much one correction weighs, chosen per head by cross-validation under guards.

A weight is allowed only where the base accuracy it costs stays within the guard, and
chosen only where left-out corrections show a pattern; lighter weights win ties.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sentiment.feedback.config import LEARNED_MARGIN, FeedbackConfig

log = logging.getLogger(__name__)


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
class Guard:
    """Data a refit must not get worse on: (base rows trained on, features, labels) parts."""

    name: str
    parts: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


@dataclass
class Head:
    """One head's refit problem: base rows, correction rows, how to fit and decide."""

    name: str
    xc: np.ndarray
    yc: np.ndarray
    #: (base rows, correction rows, weight of a correction) -> a fitted model.
    fit: Callable[[np.ndarray, np.ndarray, float], Any]
    #: (model, features, labels) -> how far each answer is on the right side of the
    #: decision point (negative: wrong), in logits (urgency: tenths of its scale).
    margin: Callable[[Any, np.ndarray, np.ndarray], np.ndarray]
    guards: tuple[Guard, ...]
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


def choose_weight(head: Head, config: FeedbackConfig) -> HeadChoice:
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
