"""The encoder's forward pass as one TorchScript call, so it holds the GIL once, not per op.

It returns the token states (the scorer pools them itself and reads each token's share
of a decision from them, ``sentiment.evidence``), so one pass serves both.

Run eagerly, each of the ~100 operations of a forward pass releases the GIL and takes it
back; beside a thread running Python (the pipeline's stages, another lane's scoring
code), taking it back can wait up to a switch interval (5 ms), and the pass stalls.
A traced encoder runs the whole pass in C++ after one release. Measured on a 2-core
machine, two lanes of one thread, batches of 64: 330-353 mentions/s eager, 370-398
traced; with a third thread running Python a fifth of the time, 252-277 eager and
327-345 traced (the Python thread's own fifth of a core is the ideal loss).

Tracing records one path through the model. Every check here is on that path: the
example carries padding, so the attention mask is never dropped as "all ones" (under
tracing transformers keeps it anyway), and the traced pass is compared with the eager
one on batches of other shapes before it is used. Where tracing fails or disagrees (a
torch without ``torch.jit``, a model whose code branches on its inputs), the scorer
logs why and stays eager: slower, never wrong.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import torch

from sentiment.network import TaskNetwork

log = logging.getLogger(__name__)

Embed = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Largest difference from the eager pass a traced one may show (fp32 sums in another
#: order; measured: identical on 60 batches of 1-64 texts, 3-128 tokens).
TOLERANCE = 1e-4


class _Embedder(torch.nn.Module):
    """``TaskNetwork.token_states`` as a module's forward, what ``torch.jit.trace`` takes."""

    def __init__(self, network: TaskNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.network.token_states(input_ids, attention_mask)


def _example(
    rows: int, length: int, pad_from: int, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """Token ids (ordinary word pieces) and a mask whose first row is padded."""
    ids = torch.randint(1000, 2000, (rows, length), generator=torch.Generator().manual_seed(rows))
    mask = torch.ones(rows, length, dtype=torch.long)
    mask[0, pad_from:] = 0
    ids[0, pad_from:] = 0
    return ids.to(device), mask.to(device)


def traced_embed(network: TaskNetwork, device: torch.device) -> Embed | None:
    """The network's ``token_states`` traced and checked, or None (with the reason logged)."""
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # torch 2.13 marks torch.jit deprecated in favour of torch.compile/export, whose
            # CPU programs run op by op from Python again; the tracer's own warnings are
            # about the shape checks that the comparison below settles.
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                _Embedder(network).eval(), _example(4, 12, 8, device), check_trace=False
            )
            for rows, length, pad_from in ((1, 5, 5), (3, 40, 17), (9, 128, 2)):
                ids, mask = _example(rows, length, pad_from, device)
                eager = network.token_states(ids, mask)
                # Padded positions are never read: compare the real tokens only.
                diff = float(((traced(ids, mask) - eager) * mask[..., None]).abs().max())
                if diff > TOLERANCE:
                    log.warning(
                        "the traced encoder differs from the eager one by %.2g on a batch of "
                        "%d x %d tokens; scoring eagerly (correct, slower)",
                        diff,
                        rows,
                        length,
                    )
                    return None
    except Exception as exc:  # noqa: BLE001  (any tracer failure: eager still works)
        log.warning(
            "could not trace the encoder (%s: %s); scoring eagerly (correct, slower)",
            type(exc).__name__,
            exc,
        )
        return None
    return traced  # type: ignore[no-any-return]
