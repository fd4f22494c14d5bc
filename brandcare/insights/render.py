"""A digest as HTML (charts embedded), Markdown or CSV.

Mention texts are untrusted: the HTML template autoescapes them and links only to
http(s) URLs; Markdown escapes the characters that would format or link.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from brandcare.insights import charts
from brandcare.insights.digest import SENTIMENTS, Digest
from listener.registry import label

FORMATS = ("html", "md", "csv")
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _safe_url(url: str) -> str | None:
    return url if re.match(r"^https?://[^\s\"'<>]+$", url or "") else None


def _delta(now: float, before: float) -> str:
    if not before:
        return "new" if now else "±0"
    change = 100 * (now - before) / before
    return f"{change:+.0f}%"


def html(d: Digest, *, with_charts: bool = True) -> str:
    """A standalone HTML page (the email body and the web page)."""
    images = {}
    if with_charts and d.total:
        images = {
            "timeline": base64.b64encode(charts.sentiment_over_time(d)).decode(),
            "issues": base64.b64encode(charts.volume_by_issue(d)).decode(),
        }
    template = _env.get_template("digest.html")
    return template.render(d=d, images=images, delta=_delta, safe_url=_safe_url,
                           sentiments=SENTIMENTS, platform_label=label)  # fmt: skip


#: What would format or link inside a line: emphasis, code, links and images, HTML and
#: autolinks, table cells, strike-through; a dot inside a word (a domain, GFM links
#: ``www.x.com`` and ``a@b.com``) and the colon of ``https://``. The texts are flattened
#: to one line and never start one, so what formats only at a line's start (``#``, ``-``,
#: ``1.``) and ordinary punctuation stay as written, as does an underscore inside a word
#: (``technical_issue``, ``@a_b``), which CommonMark never reads as emphasis.
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~]|(?<!\w)_|_(?!\w)|\.(?=\w)|:(?=//)")


def _md(text: str, limit: int = 200) -> str:
    """``text`` as inert inline Markdown that reads as written."""
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def markdown(d: Digest) -> str:
    r = d.response
    median = f"{r.median_minutes:.0f} min" if r.median_minutes is not None else "-"
    lines = [
        f"# {_md(d.brand_name)}: {d.period} digest",
        f"{d.start:%Y-%m-%d %H:%M} to {d.end:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Mentions: **{d.total}** "
        f"({_delta(d.total, d.previous_total)} on the previous {d.period})",
        "- Sentiment: "
        + ", ".join(f"{s} {d.share(s):.0%}" for s in SENTIMENTS)
        + f"; net {Digest.net(d.sentiment):+.0f} (was {Digest.net(d.previous_sentiment):+.0f})",
        f"- Answered: {r.answered} of {r.needing_reply} ({r.answered_share:.0%}); "
        f"median first response {median}; SLA ({d.sla_minutes} min) breaches: {r.breaches}",
        "",
        "## By platform",
        "",
        "| platform | " + " | ".join(SENTIMENTS) + " |",
        "|---|" + "---|" * len(SENTIMENTS),
    ]
    for platform, counts in sorted(d.by_platform.items()):
        lines.append(
            f"| {_md(label(platform))} | "
            + " | ".join(str(counts.get(s, 0)) for s in SENTIMENTS)
            + " |"
        )
    lines += [
        "",
        "## Top issues",
        "",
        "| issue | mentions | change | negative |",
        "|---|---|---|---|",
    ]
    for i in d.issues[:10]:
        lines.append(f"| {_md(i.issue)} | {i.count} | {i.change:+d} | {i.negative} |")
    lines += ["", "## Most-reached negative mentions", ""]
    for e in d.reached_negative:
        lines.append(
            f"- @{_md(e.author)} ({e.followers:,} followers, {_md(label(e.platform))}): "
            f"{_md(e.text)}"
        )
    for i in d.issues[:5]:
        if i.examples:
            lines += ["", f"### {_md(i.issue)}", ""]
            lines += [f"- @{_md(e.author)}: {_md(e.text)}" for e in i.examples]
    return "\n".join(lines) + "\n"


def csv_text(d: Digest) -> str:
    """One row per issue with the period's numbers (for spreadsheets)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["brand", "period_start", "period_end", "issue", "mentions", "previous", "negative"])
    for i in d.issues:
        w.writerow(
            [
                d.brand,
                d.start.isoformat(),
                d.end.isoformat(),
                i.issue,
                i.count,
                i.previous,
                i.negative,
            ]
        )
    w.writerow([d.brand, d.start.isoformat(), d.end.isoformat(), "(all)", d.total, d.previous_total,
                d.sentiment.get("negative", 0)])  # fmt: skip
    return buf.getvalue()


def render(d: Digest, fmt: str) -> str:
    if fmt == "html":
        return html(d)
    if fmt == "md":
        return markdown(d)
    if fmt == "csv":
        return csv_text(d)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
