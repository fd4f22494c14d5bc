"""Decision thresholds for the care heads, chosen on items the heads never trained on.

A fine-tuned head's 0.5 is rarely the best decision point, and the best point differs
between the fp32 and int8 encoders, so thresholds are tuned on the tune split
(``data.split_tune``) with the int8 encoder production runs, then folded into the
heads' biases: downstream code keeps reading 0.5 (and 1/3, 2/3 for urgency levels) as
the tuned decision points.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from sentiment.care_training import SIGMOID_HEADS, CareNetwork
from sentiment.data import SIGNAL_KINDS, CareItem
from sentiment.encoder import load_tokenizer, pad_batch
from sentiment.metrics import f1, macro_f1
from sentiment.network import CareHeads, LinearHead, TaskNetwork

#: A signal head's threshold is tuned only with at least this many positives to tune on.
MIN_POSITIVES = 8
#: Signals raise urgency, so a false one costs more than a missed one: F-beta with
#: beta 0.5 weighs precision twice as much as recall, and a signal's threshold is only
#: ever raised from the trained 0.5 (lowering it bought recall on the tune split and
#: cost calm posts their calm on the held-out set: 5% of praise and jokes ranked high).
SIGNAL_BETA = 0.5
_GRID = np.arange(0.1, 0.91, 0.025)
_SIGNAL_GRID = np.arange(0.5, 0.91, 0.025)


@dataclass(frozen=True)
class Calibrated:
    """The care heads with tuned thresholds folded in, and what tuning chose."""

    heads: CareHeads
    urgency_knots: list[float]
    chosen: dict[str, str]


def pooled_features(network: TaskNetwork, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Mean-pooled embeddings of cleaned texts, as the scorer computes them."""
    from sentiment.text import clean_text

    tokenizer = load_tokenizer()
    ids = tokenizer([clean_text(t)[0] for t in texts], truncation=True, max_length=max_length)[
        "input_ids"
    ]
    rows = []
    with torch.inference_mode():
        for start in range(0, len(ids), 64):
            batch, mask = pad_batch(ids[start : start + 64])
            rows.append(network.embed(batch, mask))
    return torch.cat(rows) if rows else torch.zeros(0, 384)


def _fbeta(gold: Sequence[bool], pred: Sequence[bool], beta: float) -> float:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def _best_threshold(
    probs: np.ndarray, gold: Sequence[bool], beta: float = 1.0, grid: np.ndarray = _GRID
) -> tuple[float, float]:
    best = (0.5, -1.0)
    for t in grid:
        score = _fbeta(gold, [bool(p >= t) for p in probs], beta)
        if score > best[1] + 1e-9:
            best = (float(t), score)
    return best


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def calibrate(model: CareNetwork, tune: Sequence[CareItem], max_length: int) -> Calibrated:
    """Tune every head's decision point on ``tune`` with the int8 encoder."""
    from sentiment.quantize import quantize_int8

    production = copy.deepcopy(model.network)
    quantize_int8(production)
    pooled = pooled_features(production.eval(), [i.text for i in tune], max_length).clone()
    heads = {name: cast(nn.Linear, head) for name, head in model.care.items()}
    weights = {name: head.weight.detach().clone() for name, head in heads.items()}
    biases = {name: head.bias.detach().clone() for name, head in heads.items()}
    with torch.no_grad():
        logits = {name: pooled @ weights[name].T + biases[name] for name in weights}
    chosen: dict[str, str] = {}

    def sig(name: str, col: int = 0) -> np.ndarray:
        return torch.sigmoid(logits[name][:, col]).numpy()

    def fold(name: str, col: int, threshold: float) -> None:
        biases[name][col] -= _logit(threshold)
        logits[name][:, col] -= _logit(threshold)

    t, score = _best_threshold(sig("needs_reply"), [i.needs_reply for i in tune])
    fold("needs_reply", 0, t)
    chosen["needs_reply"] = f"threshold={t:.3f} tune_f1={score:.3f}"

    known = [k for k, i in enumerate(tune) if i.abusive is not None]
    t, score = _best_threshold(sig("abusive")[known], [bool(tune[k].abusive) for k in known])
    fold("abusive", 0, t)
    chosen["abusive"] = f"threshold={t:.3f} tune_f1={score:.3f} (n={len(known)})"

    # Trolling is decided by all three heads: abuse, no reply needed, the troll head.
    gold_troll = [i.troll for i in tune]
    others = np.minimum(sig("abusive"), 1 - sig("needs_reply"))
    best = (0.5, -1.0)
    for t in _GRID:
        flags = [bool(p) and bool(o >= 0.5) for p, o in zip(sig("troll") >= t, others, strict=True)]
        score = f1(["1" if g else "0" for g in gold_troll], ["1" if p else "0" for p in flags], "1")
        if score > best[1] + 1e-9:
            best = (float(t), score)
    fold("troll", 0, best[0])
    chosen["troll"] = f"threshold={best[0]:.3f} tune_f1={best[1]:.3f} (with abusive, no reply)"

    for col, kind in enumerate(SIGNAL_KINDS):
        rows = [k for k, i in enumerate(tune) if kind in dict(i.signals)]
        gold = [dict(tune[k].signals)[kind] for k in rows]
        if sum(gold) < MIN_POSITIVES:
            chosen[f"signal:{kind}"] = f"threshold=0.500 (only {sum(gold)} positives to tune on)"
            continue
        t, score = _best_threshold(sig("signals", col)[rows], gold, SIGNAL_BETA, _SIGNAL_GRID)
        fold("signals", col, t)
        chosen[f"signal:{kind}"] = f"threshold={t:.3f} tune_f0.5={score:.3f} (n={len(rows)})"

    best_u = _urgency_knots(torch.softmax(logits["urgency"], dim=-1).numpy(), tune)
    chosen["urgency"] = f"t1={best_u[0]:.3f} t2={best_u[1]:.3f} tune_macro_f1={best_u[2]:.3f}"
    chosen["tune_items"] = str(len(tune))

    tuned = {name: LinearHead(weights[name], biases[name]) for name in weights}
    care = CareHeads(tuned, torch.zeros(384), torch.ones(384))
    return Calibrated(care.eval(), [0.0, best_u[0], best_u[1], 1.0], chosen)


def _urgency_knots(probs: np.ndarray, tune: Sequence[CareItem]) -> tuple[float, float, float]:
    """(t1, t2, macro-F1): level boundaries on the expected urgency (low 0, medium .5, high 1)."""
    raw = 0.5 * probs[:, 1] + probs[:, 2]
    gold_levels = [i.urgency for i in tune]
    best = (1 / 3, 2 / 3, -1.0)
    for t1 in _GRID:
        for t2 in _GRID[t1 + 0.05 < _GRID]:
            levels = ["high" if r >= t2 else "medium" if r >= t1 else "low" for r in raw]
            score = macro_f1(gold_levels, levels)
            if score > best[2] + 1e-9:
                best = (float(t1), float(t2), score)
    return best


def care_probs(care: CareHeads, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
    """Probabilities of every care head (sigmoid or softmax by head)."""
    with torch.inference_mode():
        logits = care(pooled)
    return {
        name: torch.sigmoid(raw.float()) if name in SIGMOID_HEADS else raw.float().softmax(-1)
        for name, raw in logits.items()
    }
