"""``brandcare bench score``: how fast the scorer is, against what the hardware allows.

Prints mentions per second for (a) the naive path (one text at a time), (b) the
production path (length-bucketed batches, dynamic padding, inference mode; fp32 and
int8), and (c) the limit: the bare encoder's forward pass on pre-tokenized,
length-sorted batches at its best batch size. Also peak memory, and the accuracy of
fp32 and int8 on the same real tweets, so a faster path cannot hide a worse model.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from sentiment.base import Scores
from sentiment.data import DatasetMissingError, Example, load_corpus
from sentiment.encoder import load_base_encoder, load_tokenizer, pad_batch
from sentiment.metrics import macro_recall
from sentiment.transformer import TransformerScorer


def _rate(n: int, work: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return n / best


def _peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _texts(n: int, shared: Path | None) -> list[Example]:
    try:
        corpus = load_corpus(shared)
    except DatasetMissingError:
        from importlib import resources

        sample = resources.files("brandcare") / "samples" / "mentions.jsonl"
        import json

        rows = [json.loads(line) for line in sample.read_text().splitlines() if line.strip()]
        pool = [Example(str(r["id"]), r["text"], "") for r in rows]
        return (pool * (n // len(pool) + 1))[:n]
    return corpus.sentiment_test[:n]


def bare_encoder_rate(texts: list[str], device: torch.device) -> tuple[float, int]:
    """The limit: the bare fp32 encoder on pre-tokenized, length-sorted batches."""
    tokenizer = load_tokenizer()
    encoder = load_base_encoder().eval().to(device)
    ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    ids.sort(key=len)
    best_rate, best_size = 0.0, 0
    for size in (16, 32, 64, 128, 256):
        batches = []
        for start in range(0, len(ids), size):
            input_ids, mask = pad_batch(ids[start : start + size])
            batches.append((input_ids.to(device), mask.to(device)))

        def forward(batches: list[tuple[torch.Tensor, torch.Tensor]] = batches) -> None:
            with torch.inference_mode():
                for input_ids, mask in batches:
                    encoder(input_ids=input_ids, attention_mask=mask)
            if device.type == "cuda":
                torch.cuda.synchronize()

        rate = _rate(len(ids), forward, repeat=2)
        if rate > best_rate:
            best_rate, best_size = rate, size
    return best_rate, best_size


def _fp32_rates(
    model_dir: Path | None, texts: list[str], device: torch.device, accuracy: bool
) -> tuple[float, float, list[Scores]]:
    """(naive rate, production fp32 rate, fp32 scores for the accuracy check)."""
    fp32 = TransformerScorer(model_dir, quantize=False, device=str(device))
    naive_n = min(300, len(texts))
    naive = _rate(naive_n, lambda: [fp32.score([t]) for t in texts[:naive_n]])
    fp32.score(texts[:64])  # warm-up
    production = _rate(len(texts), lambda: fp32.score(texts), repeat=2)
    return naive, production, fp32.score(texts) if accuracy else []


def run_score_benchmark(
    model_dir: Path | None, *, n: int = 3000, shared: Path | None = None, accuracy: bool = True
) -> str:
    """Run every measurement and return the printed report."""
    examples = _texts(n, shared)
    texts = [e.text for e in examples]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer()
    lengths = [len(r) for r in tokenizer(texts)["input_ids"]]
    lines = [
        f"device: {device} ({torch.get_num_threads()} threads), torch {torch.__version__}",
        f"texts: {len(texts)} real tweets, {sum(lengths) / len(lengths):.1f} tokens on average",
    ]
    rate = _rate(len(texts), lambda: tokenizer(texts), repeat=2)
    lines.append(f"tokenization alone: {rate:,.0f} texts/s")

    naive, production_fp32, fp32_scores = _fp32_rates(model_dir, texts, device, accuracy)
    limit, limit_batch = bare_encoder_rate(texts, device)
    rows = [
        ("(a) naive: one text at a time, fp32", naive),
        ("(b) production, fp32", production_fp32),
    ]
    int8_scores: list[Scores] = []
    production_int8 = 0.0
    if device.type == "cpu":
        int8 = TransformerScorer(model_dir, quantize=True)
        int8.score(texts[:64])
        production_int8 = _rate(len(texts), lambda: int8.score(texts), repeat=2)
        int8_scores = int8.score(texts) if accuracy else []
        rows.append(("(b) production, int8 dynamic quantization", production_int8))
    rows.append((f"(c) limit: bare fp32 encoder forward, batch {limit_batch}", limit))
    lines.append("")
    lines += [f"{name:<52} {value:>9,.0f} mentions/s" for name, value in rows]
    best = max(production_fp32, production_int8)
    lines += [
        "",
        f"(b) fp32 / (c):  {production_fp32 / limit:.2f}  (target >= 0.90)",
    ]
    if production_int8:
        lines.append(f"(b) int8 / (c):  {production_int8 / limit:.2f}  (target >= 1.60)")
    lines.append(f"(b) best / (a):  {best / naive:.2f}  (target >= 3.00)")
    if fp32_scores and int8_scores and all(e.label for e in examples):
        gold = [e.label for e in examples]
        a = macro_recall(gold, [s.sentiment.value for s in fp32_scores])
        b = macro_recall(gold, [s.sentiment.value for s in int8_scores])
        agree = sum(
            x.sentiment == y.sentiment for x, y in zip(fp32_scores, int8_scores, strict=True)
        ) / len(texts)
        lines.append(
            f"sentiment macro-recall on these texts: fp32 {a:.4f}, int8 {b:.4f} "
            f"({(b - a) * 100:+.2f} points; target within 1); labels agree on {agree:.1%}"
        )
    lines.append(f"peak memory (RSS): {_peak_mib():,.0f} MiB")
    if device.type == "cuda":
        lines.append(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB")
    return "\n".join(lines)
