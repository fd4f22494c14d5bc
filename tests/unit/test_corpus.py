"""Our written training posts (sentiment/corpus) are well formed and labeled by the guide."""

import json
from collections import Counter

from sentiment.base import ISSUES
from sentiment.data import SIGNAL_KINDS, corpus_dir, load_written

FIELDS = {
    "text", "platform", "sentiment", "needs_reply", "troll", "abusive", "urgency", "issue",
    "signals", "lang", "kind",
}  # fmt: skip


def rows() -> list[tuple[str, int, dict[str, object]]]:
    out = []
    for path in sorted(corpus_dir().glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                out.append((path.name, number, json.loads(line)))
    return out


def test_every_post_has_the_fields_and_labels_the_guide_allows() -> None:
    problems = []
    for name, number, r in rows():
        where = f"{name}:{number}"
        if set(r) != FIELDS:
            problems.append(f"{where}: fields {sorted(set(r) ^ FIELDS)}")
            continue
        if r["issue"] not in ISSUES or not set(r["signals"]) <= set(SIGNAL_KINDS):  # type: ignore[arg-type]
            problems.append(f"{where}: issue or signal outside the guide")
        if r["troll"] and (r["needs_reply"] or r["urgency"] != "low" or r["signals"]):
            problems.append(f"{where}: a troll needs no reply, is low and has no signal")
        if r["troll"] and not r["abusive"]:
            problems.append(f"{where}: a troll is abusive")
        if r["signals"] and r["signals"] != ["time_pressure"] and r["urgency"] != "high":
            problems.append(f"{where}: a post with a signal is high")
    assert problems == []


def test_no_text_is_written_twice() -> None:
    counts = Counter(str(r["text"]).strip().lower() for _, _, r in rows())
    assert [t for t, n in counts.items() if n > 1] == []


def test_the_loader_reads_every_post_with_every_signal_labeled() -> None:
    items = load_written()
    assert len(items) == len(rows()) > 2000
    assert all(len(i.signals) == len(SIGNAL_KINDS) for i in items)
    assert sum(i.troll for i in items) > 300
    assert {i.lang for i in items} >= {"en", "es", "ar", "he", "ja"}
