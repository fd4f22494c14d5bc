"""The digest's charts as PNG bytes (matplotlib, no display needed).

PNG rather than SVG: mail clients show PNG attachments and data URIs more reliably,
and a chart this size is a few dozen kilobytes either way.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from brandcare.insights.digest import SENTIMENTS, Digest

COLOURS = {"negative": "#c8372d", "neutral": "#9aa3b5", "positive": "#2f855a"}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def sentiment_over_time(d: Digest) -> bytes:
    """Stacked mentions per hour (day digest) or per day (week digest), by sentiment."""
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    times = [float(mdates.date2num(t)) for t, _ in d.timeline]  # type: ignore[no-untyped-call]
    bottom = [0] * len(times)
    width = (1 / 24 if d.period == "day" else 1.0) * 0.9
    for label in SENTIMENTS:
        values = [counts.get(label, 0) for _, counts in d.timeline]
        ax.bar(times, values, width=width, bottom=bottom, color=COLOURS[label], label=label,
               align="edge")  # fmt: skip
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.xaxis_date()
    ax.set_ylabel("mentions")
    ax.set_title(f"{d.brand_name}: mentions by sentiment", loc="left", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    return _png(fig)


def volume_by_issue(d: Digest, top: int = 8) -> bytes:
    """Mentions per issue this period against the previous one."""
    lines = [i for i in d.issues if i.issue != "none"][:top] or list(d.issues[:top])
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(lines), 2) + 0.8))
    names = [i.issue.replace("_", " ") for i in lines][::-1]
    now = [i.count for i in lines][::-1]
    before = [i.previous for i in lines][::-1]
    y = range(len(lines))
    ax.barh([v + 0.2 for v in y], now, height=0.4, color="#2457d6", label="this period")
    ax.barh([v - 0.2 for v in y], before, height=0.4, color="#c9d3ea", label="previous")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.set_title("volume by issue", loc="left", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
