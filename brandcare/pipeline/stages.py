"""The pipeline: its four stages together, one module each (poll, score, draft, send).

Each stage reads what it needs, does its slow work (an API call, a forward pass)
outside any transaction, and writes its results in one short transaction. Every stage
is idempotent: a message delivered twice finds its work done and does nothing, which
is what lets Dramatiq redeliver freely after a crash. ``brandcare.pipeline.tasks``
wraps these in actors; tests call them directly, without a broker.
"""

from __future__ import annotations

from brandcare.pipeline.draft import DraftStage
from brandcare.pipeline.poll import PollStage
from brandcare.pipeline.score import ScoreStage
from brandcare.pipeline.send import SendStage


class Pipeline(PollStage, ScoreStage, DraftStage, SendStage):
    """The stages, bound to a database, the platform sources and a scorer."""
