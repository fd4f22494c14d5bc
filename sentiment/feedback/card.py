"""The refitted model's card: what was learned from which corrections, before and after.

Written beside the artifacts so a reviewer can tell what the agents' corrections changed
without rerunning anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentiment import artifacts
from sentiment.feedback.config import FeedbackConfig
from sentiment.feedback.corrections import LABELS, CorrectionSplit, of_field
from sentiment.feedback.evaluate import FeedbackReport, format_report
from sentiment.feedback.weighing import HeadChoice
from sentiment.network import CareHeads, TaskNetwork


def version_of(source_version: str, source_sha: str, network: TaskNetwork, care: CareHeads) -> str:
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


def write_card(
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
    counts = {name: len(of_field(split.train, name)) for name in LABELS}
    held = {name: len(of_field(split.heldout, name)) for name in LABELS}
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
