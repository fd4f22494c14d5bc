"""The heads' fits a refit chooses among, and the features they are fitted on.

Linear heads only: a distilled softmax for sentiment, stage 2's logistic regression for
the care heads; margins say how far an answer is on the right side of its decision point.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment import artifacts
from sentiment.feedback.config import FeedbackError
from sentiment.network import TaskNetwork
from sentiment.text import clean_text
from sentiment.transformer import TransformerScorer

log = logging.getLogger(__name__)


def balanced_weights(y: np.ndarray, classes: int) -> np.ndarray:
    """Per-row weights n / (classes * count): scikit-learn's "balanced", mean 1."""
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    weights: np.ndarray = len(y) / (classes * np.maximum(counts[y], 1.0))
    return weights


def distilled_fit(
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


def softmax_margin(
    model: tuple[np.ndarray, np.ndarray], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Logit of the right class minus the best other one."""
    logits = x @ model[0].T + model[1]
    right = logits[np.arange(len(y)), y]
    logits[np.arange(len(y)), y] = -np.inf
    margin: np.ndarray = right - logits.max(axis=1)
    return margin


def logistic_fit(
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


def binary_margin(threshold: float) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
    """Logit distance past the tuned threshold, toward the right answer."""
    at = math.log(threshold / (1 - threshold))

    def margin(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = model.decision_function(x) - at
        signed: np.ndarray = np.where(y == 1, z, -z)
        return signed

    return margin


def urgency_margin(t1: float, t2: float) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray]:
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


def class_margin(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-probability of the right class minus the best other one (a multi-class head)."""
    logp = model.predict_log_proba(x)
    right = logp[np.arange(len(y)), y].copy()
    logp[np.arange(len(y)), y] = -np.inf
    margin: np.ndarray = right - logp.max(axis=1)
    return margin


@dataclass(frozen=True)
class Hyper:
    c: float
    balanced: bool
    threshold: float | None


_CV = re.compile(
    r"C=(?P<c>[0-9.eE+-]+)(?: balanced=(?P<balanced>True|False))?(?: threshold=(?P<t>[0-9.]+))?"
)


def hyper_for(config: artifacts.ModelConfig, head: str) -> Hyper:
    """The regularisation and threshold cross-validation chose for a care head."""
    text = str(config.extra.get("care_cv", {}).get(head, ""))
    found = _CV.match(text)
    if not found:
        raise FeedbackError(
            f"the source model {config.version} does not record its {head} head's settings "
            "(care_cv in config.json): refit it with `brandcare train --refit-care` first"
        )
    threshold = found.group("t")
    return Hyper(
        float(found.group("c")),
        found.group("balanced") == "True",
        None if threshold is None else float(threshold),
    )


# -- features ---------------------------------------------------------------------------


def pooled_cached(
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


def care_features(network: TaskNetwork, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Raw care features as stage 2 computed them (same batching, same numbers)."""
    from sentiment.train import _features

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return _features(network, texts, max_length)
