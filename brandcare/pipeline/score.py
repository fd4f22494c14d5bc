"""The score stage: the scorer's labels and the policy's decisions, stored once per model."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from brandcare.ops import metrics
from brandcare.pipeline.base import LOGGER, PipelineBase
from brandcare.store import transaction
from brandcare.store.mentions import set_mention_state
from brandcare.store.scores import ScoreRecord, TextToScore, save_scores, texts_to_score
from responders.policy import Action, decide
from responders.vector_index import to_bytes
from sentiment.base import Scorer, Scores, ScoringEmbedder

#: A text any working scorer reads: when it fails too, the scorer is broken, not a post.
_PROBE = "hello"

log = logging.getLogger(LOGGER)


@dataclass(frozen=True, slots=True)
class ToDraft:
    """Newly scored mentions the draft stage must handle, in scoring order, and which of
    them the model scored high (those are drafted in the urgent lane)."""

    ids: list[int] = field(default_factory=list)
    high: list[int] = field(default_factory=list)

    @property
    def other(self) -> list[int]:
        """The mentions to draft that the model did not score high."""
        high = set(self.high)
        return [m for m in self.ids if m not in high]


@dataclass(frozen=True, slots=True)
class Vectors:
    """A scoring pass's embeddings, row by row with its texts, and their encoder."""

    rows: NDArray[np.float32]
    encoder: str


class ScorerUnavailable(RuntimeError):
    """The scorer fails on every text, a plain one included: retry later, set nothing aside."""


class ScoreStage(PipelineBase):
    """Scoring: batches through the scorer, a post it chokes on set aside for agents."""

    def score(self, mention_ids: Sequence[int]) -> list[int]:
        """Score the mentions not scored yet; return the ones the draft stage must handle."""
        return self.score_by_urgency(mention_ids).ids

    def score_by_urgency(self, mention_ids: Sequence[int]) -> ToDraft:
        """``score``, with the mentions to draft split by the model's urgency level: a
        backlog of drafting must not hold back the ones it scored high either."""
        with self._compute:
            return self._score(mention_ids)

    def _score(self, mention_ids: Sequence[int]) -> ToDraft:
        with transaction(self.sessions) as s:
            todo = texts_to_score(s, mention_ids)
        if not todo:
            return ToDraft()
        scorer = self.scorer()  # loaded before the clock starts: a load is not a batch
        started = time.perf_counter()
        results, vectors, failed = self._score_texts(scorer, todo)
        metrics.scored(len(todo), time.perf_counter() - started)
        readable = [t for t in todo if t.mention_id not in failed]
        records, actions = self._score_records(readable, results, vectors)
        with transaction(self.sessions) as s:
            newly = save_scores(s, records)
            ignored = [m for m in newly if actions[m] is Action.IGNORE]
            set_mention_state(s, ignored, "ignored", from_states=["scored"])
            self._set_aside(s, failed, stage="score")
        log.info(
            "scored %d mentions (%d to draft)",
            len(newly),
            len(newly) - len(ignored),
            extra={"mention_ids": newly, "ignored_ids": ignored},
        )
        high = {r.mention_id for r in records if r.urgency_level == "high"}
        to_draft = [m for m in newly if actions[m] is not Action.IGNORE]
        return ToDraft(to_draft, [m for m in to_draft if m in high])

    @staticmethod
    def _score_texts(
        scorer: Scorer, todo: Sequence[TextToScore]
    ) -> tuple[list[Scores], Vectors | None, dict[int, str]]:
        """Scores of the texts the scorer reads, their vectors when the scorer embeds in
        the same pass, and why it failed on the others.

        A batch that fails is scored text by text (without vectors: drafting embeds
        those), so one post the scorer chokes on is set aside for the agents instead of
        holding its batch back at every retry. When every text fails and a plain one
        does too, the scorer itself is broken: ``ScorerUnavailable``, which the actor
        retries, and nothing is set aside.
        """
        texts = [t.text for t in todo]
        try:
            if isinstance(scorer, ScoringEmbedder):
                scores, vectors = scorer.score_and_embed(texts)
                return scores, Vectors(vectors, scorer.embedding_version), {}
            return scorer.score(texts), None, {}
        except Exception as exc:  # noqa: BLE001  (any scorer's bug: find the posts at fault)
            log.warning(
                "scoring %d mentions failed (%s: %s); scoring them one by one",
                len(todo),
                type(exc).__name__,
                exc,
            )
        results: list[Scores] = []
        failed: dict[int, str] = {}
        for item in todo:
            try:
                results.extend(scorer.score([item.text]))
            except Exception as exc:  # noqa: BLE001
                failed[item.mention_id] = f"scoring failed: {type(exc).__name__}: {exc}"
        if len(failed) == len(todo):
            try:
                scorer.score([_PROBE])
            except Exception as exc:
                raise ScorerUnavailable(
                    f"the scorer fails even on {_PROBE!r} ({type(exc).__name__}: {exc}); the "
                    f"{len(todo)} mentions stay unscored and are retried"
                ) from exc
        return results, None, failed

    def rescore(self, mention_ids: Sequence[int]) -> list[int]:
        """Score mentions again with this process's model; those it scored for the first time.

        A new model version (``brandcare train --feedback``) adds a score row beside the
        old one, and the newest row is the one the inbox, aggregates and digests read:
        one score per mention, never a blend. Rescoring a window after a model change keeps
        a digest from comparing one model's week with another's. Drafts keep their state
        (an agent sees the new labels and can un-skip); nothing is enqueued.
        """
        with self._compute:
            scorer = self.scorer()
            with transaction(self.sessions) as s:
                todo = texts_to_score(s, mention_ids, scorer.model_version)
            if not todo:
                return []
            records, _ = self._score_records(todo, scorer.score([t.text for t in todo]))
            with transaction(self.sessions) as s:
                return save_scores(s, records)

    def _score_records(
        self,
        todo: Sequence[TextToScore],
        results: Sequence[Scores],
        vectors: Vectors | None = None,
    ) -> tuple[list[ScoreRecord], dict[int, Action]]:
        """The rows to store for scored mentions, and what the policy decided for each.

        A mention the policy answers keeps its vector: drafting compares it with reply
        memory. Others would only fill the table.
        """
        records, actions = [], {}
        for i, (item, scores) in enumerate(zip(todo, results, strict=True)):
            decision = decide(scores, followers=item.followers, thresholds=self.thresholds)
            actions[item.mention_id] = decision.action
            keep = vectors is not None and decision.action is Action.REPLY
            records.append(
                ScoreRecord(
                    mention_id=item.mention_id,
                    model_version=scores.model_version,
                    sentiment=scores.sentiment.value,
                    prob_negative=scores.probs.negative,
                    prob_neutral=scores.probs.neutral,
                    prob_positive=scores.probs.positive,
                    urgency=decision.urgency,
                    urgency_level=decision.urgency_level,
                    needs_reply=decision.needs_reply,
                    needs_reply_prob=scores.needs_reply_prob,
                    troll=decision.troll,
                    troll_prob=scores.troll_prob,
                    issue=scores.issue,
                    reasons=decision.reasons,
                    offensive_prob=scores.offensive_prob,
                    issue_prob=scores.issue_prob,
                    signals=[
                        {"kind": x.kind, "evidence": x.evidence, "weight": x.weight}
                        for x in scores.signals
                    ],
                    abusive_prob=scores.abusive_prob,
                    language=scores.language,
                    embedding=to_bytes(vectors.rows[i]) if keep and vectors else None,
                    encoder=vectors.encoder if keep and vectors else None,
                )
            )
        return records, actions
