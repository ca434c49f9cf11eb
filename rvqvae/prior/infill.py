"""Fill-in-the-middle (FIM) for the flat prior: training on reordered windows, and infilling.

A causal prior sees only the columns before a range. FIM training (Bavarian et al. 2022; on
RVQ codes, VoiceCraft) shows the prior some windows reordered as *prefix, suffix, middle*, so
that at sampling time it can be given the columns on both sides of a range first and then
draw the range itself. Here the reordering is by whole columns of the grid:

- every token (``FlatPrior.sequence_inputs``) keeps the embedding of its true column
  (``column_emb``) and slot, and adds a segment embedding (0 prefix, 1 suffix, 2 middle;
  ``FlatPrior.segment_emb``, present when ``prior.model.fim_rate > 0``);
- its "previous token" input is the previous token *in the reordered sequence* (so the first
  middle token reads the suffix's last token), and its "above" input (the same slot one column
  earlier) is the true previous column's code when that column comes earlier in the sequence,
  else the "none" embedding (the suffix's first column: its left neighbour is the middle);
- with probability ``fim_rate`` a training batch is reordered at one random split (shared by
  the batch and within the shortest file of the batch); the loss covers every token, in its
  reordered position. Validation and sampling read windows in order, as before.

:func:`infill` draws columns ``[start, end)`` of a window given every other column of it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from rvqvae.prior.model import CodePrior, FlatPrior, Picker

PREFIX, SUFFIX, MIDDLE = 0, 1, 2


def fim_order(
    length: int, start: int, end: int, columns: int | None = None
) -> tuple[Tensor, Tensor]:
    """``(order [C], segments [C])``: sequence position -> true column for the middle
    ``[start, end)`` of the first ``length`` columns (prefix, suffix, middle, then the padding
    columns ``[length, C)`` last, as prefix), and each sequence column's segment."""
    c = length if columns is None else columns
    if not 0 <= start < end <= length <= c:
        raise ValueError(f"need 0 <= start < end <= length <= columns, got {start, end, length, c}")
    parts = [(0, start, PREFIX), (end, length, SUFFIX), (start, end, MIDDLE), (length, c, PREFIX)]
    order = torch.cat([torch.arange(a, b) for a, b, _ in parts])
    segments = torch.cat([torch.full((b - a,), seg) for a, b, seg in parts])
    return order, segments


def reordered_nll(prior: FlatPrior, columns: Tensor, order: Tensor, segments: Tensor) -> Tensor:
    """NLL (nats) of every token of windows ``[B, C, S]`` read in column ``order``, returned at
    the tokens' true places ``[B, C, S]`` (the identity order gives ``prior.token_nll``)."""
    b, c, s = columns.shape
    positions = torch.arange(c * s, device=columns.device)
    h = prior.transformer(prior.sequence_inputs(columns, order, segments, positions))
    logits = prior.level_logits(h, positions % s)  # [B, C*S, K]
    seq = columns[:, order.to(columns.device)]
    nll = F.cross_entropy(logits.flatten(0, 1).float(), seq.flatten(), reduction="none")
    out = torch.empty_like(nll.view(b, c, s))
    out[:, order.to(columns.device)] = nll.view(b, c, s)
    return out


def training_nll(
    prior: CodePrior, columns: Tensor, mask: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """The training loss's token NLL ``[B, C, S]``: with probability ``prior.fim_rate`` of a
    window batch reordered at a random split within its shortest file (``mask [B, C]``), else
    in order."""
    rate = getattr(prior, "fim_rate", 0.0)
    if rate <= 0:  # no reduction over the mask (a host sync on a GPU) for in-order priors
        return prior.token_nll(columns)
    length = int(mask.sum(dim=1).min()) if mask.numel() else 0
    if length < 2 or float(torch.rand((), generator=generator)) >= rate:
        return prior.token_nll(columns)
    middle = int(torch.randint(1, length, (), generator=generator))  # 1 .. length - 1
    start = int(torch.randint(0, length - middle, (), generator=generator))  # suffix >= 1 col
    order, segments = fim_order(length, start, start + middle, columns.shape[1])
    return reordered_nll(prior, columns, order, segments)


def can_infill(prior: CodePrior) -> bool:
    """Whether ``prior`` (or a view of one that forwards its attributes) was trained for
    fill-in-the-middle: flat order and ``fim_rate > 0``."""
    return getattr(prior, "order", None) == FlatPrior.order and getattr(prior, "fim_rate", 0) > 0


def infill(
    prior: FlatPrior,
    window: Tensor,
    start: int,
    end: int,
    pick: Picker,
    keep: Tensor | None = None,
    progress: Callable[[int], None] | None = None,
) -> Tensor:
    """``window [B, C, S]`` (C <= context) with columns ``[start, end)`` drawn by ``pick`` given
    every other column (prefix and suffix first, then the middle, KV cache); where ``keep
    [end - start, S]`` is true the window's own code stays (a variation's kept levels).
    ``progress(n)`` is called after each of the middle's columns (n done)."""
    if not can_infill(prior):
        raise ValueError(
            "fill-in-the-middle needs a flat prior trained with prior.model.fim_rate > 0"
        )
    b, c, s = window.shape
    if c > prior.context_columns:
        raise ValueError(f"a window of {c} columns exceeds the context ({prior.context_columns})")
    order, segments = fim_order(c, start, end)
    true_col = order.tolist()
    known = (c - (end - start)) * s  # tokens of the prefix and the suffix
    with torch.inference_mode():
        out = window.clone()
        cache = prior.transformer.new_cache(b, c * s, prior.bos)
        first = torch.arange(known + 1, device=out.device)
        h = prior.transformer(prior.sequence_inputs(out, order, segments, first), cache)
        for p in range(known, c * s):
            col, slot = true_col[p // s], p % s
            if keep is None or not bool(keep[col - start, slot]):
                out[:, col, slot] = pick(prior.slot_logits(h[:, -1], slot))
            if progress is not None and slot == s - 1:
                progress((p + 1 - known) // s)
            if p + 1 < c * s:
                nxt = torch.tensor([p + 1], device=out.device)
                h = prior.transformer.step(prior.sequence_inputs(out, order, segments, nxt), cache)
    return out.clone()


@torch.no_grad()
def infill_nll(prior: FlatPrior, window: Tensor, start: int, end: int) -> float:
    """The prior's NLL (nats) of the true codes of columns ``[start, end)`` of ``window
    [C, S]`` given every other column of it (prefix and suffix first): what the right context
    adds is this against the left-only NLL of the same columns."""
    c = window.shape[0]
    order, segments = fim_order(c, start, end)
    nll = reordered_nll(prior.eval(), window[None].to(prior.bos.device), order, segments)
    return float(nll[0, start:end].double().sum())
