"""The process's pipeline, built once from settings by an entry point.

Actors receive only ids; they find the database, sources and scorer here. Entry points
(the CLI, ``brandcare.worker`` for Dramatiq worker processes, tests) call ``configure``
before any message is processed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from brandcare.brands.sources import Sources
from brandcare.config import Settings
from brandcare.ops.layout import ScoringLayout, scoring_layout
from brandcare.pipeline.base import Prices
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, session_factory
from listener.base import Source
from sentiment.base import Scorer

log = logging.getLogger(__name__)


class NotConfiguredError(RuntimeError):
    """An actor ran before the process configured its pipeline."""


_lock = threading.Lock()
_state: dict[str, object] = {}


def default_scorer(settings: Settings, layout: ScoringLayout | None = None) -> Scorer:
    """The transformer scorer with the settings' model folder and speed knobs, loaded
    and run on the process's scoring lanes (``sentiment.torch_thread``: actors arrive on
    several worker threads)."""
    from sentiment.torch_thread import TorchThreadScorer
    from sentiment.transformer import TransformerScorer

    layout = layout or scoring_layout(settings)
    # Logged where the model loads, not at every configure: a command that never scores
    # (an approval, a queue listing) has no lanes to report.
    log.info(
        "scoring on %d lane(s) of %d torch thread(s)",
        layout.lanes,
        layout.threads,
        extra={"lanes": layout.lanes, "torch_threads": layout.threads},
    )
    return TorchThreadScorer(
        lambda: TransformerScorer(
            settings.model_dir,
            quantize=settings.score_quantize,
            batch_size=settings.score_batch_size,
            threads=layout.threads,
            sentiment_model=settings.sentiment_model,
            trace=settings.score_trace,
        ),
        lanes=layout.lanes,
    )


def configure(
    settings: Settings,
    *,
    scorer: Scorer | None = None,
    sources: dict[str, Source] | None = None,
    worker_threads: int = 2,
    processes: int = 1,
) -> Pipeline:
    """Build this process's pipeline (tests may inject a scorer and sources);
    ``worker_threads``: the threads that will take its messages in this process, one of
    ``processes`` sharing the machine's cores."""
    engine = make_engine(settings.database_url)
    registry = Sources(settings, sources)
    layout = scoring_layout(settings, processes=processes, worker_threads=worker_threads)
    pipeline = Pipeline(
        session_factory(engine),
        registry,
        (lambda: scorer) if scorer is not None else (lambda: default_scorer(settings, layout)),
        prices=Prices(settings.x_price_per_read_usd, settings.x_price_per_post_usd),
        exclusive_compute=scorer is not None or layout.exclusive,
    )
    pipeline.settle_window = dt.timedelta(seconds=settings.send_settle_seconds)
    with _lock:
        old = _state.get("engine")
        _state.update(settings=settings, pipeline=pipeline, engine=engine)
    if old is not None:
        old.dispose()  # type: ignore[attr-defined]
    return pipeline


def ensure(settings: Settings) -> Pipeline:
    """The configured pipeline, configuring it from ``settings`` on first use (CLI, web).

    Configured for one caller at a time (``brandcare rescore``, an approval's send): one
    lane with every core's threads, not lanes that no second thread would feed.
    """
    try:
        return pipeline()
    except NotConfiguredError:
        return configure(settings, worker_threads=1)


def pipeline() -> Pipeline:
    """The configured pipeline."""
    found = _state.get("pipeline")
    if not isinstance(found, Pipeline):
        raise NotConfiguredError(
            "brandcare's pipeline is not configured in this process: start workers with "
            "`brandcare worker` (or `dramatiq brandcare.worker`), "
            "not `dramatiq brandcare.pipeline.tasks`"
        )
    return found


def settings() -> Settings:
    """The settings the pipeline was configured with."""
    found = _state.get("settings")
    if not isinstance(found, Settings):
        raise NotConfiguredError("brandcare settings are not configured in this process")
    return found
