"""What a feedback refit is allowed to do: its settings and its error.

Shared by the weighing, the fits and the retraining; imports nothing else of the
feedback package.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentiment.feedback.corrections import HELDOUT_FRACTION, SPLIT_SEED

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
