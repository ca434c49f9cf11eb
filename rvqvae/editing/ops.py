"""Edits that need no prior: level swap, blend (re-quantized by the RVQ itself), splice.

Grids are ``[rows, cols, Q]`` long tensors (:mod:`rvqvae.codec.grid`); every function returns a
new grid and leaves its inputs alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rvqvae.editing.ranges import ColumnRange, EditError, check_level
from rvqvae.models.vqvae import ConvVQVAE


def swap_levels(a: Tensor, b: Tensor, k: int) -> Tensor:
    """Levels ``< k`` of ``a`` ("structure") with levels ``>= k`` of ``b`` ("detail"), over the
    columns both grids have."""
    check_level(k, a.shape[2], "levels_from_a")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise EditError(f"grids of shape {tuple(a.shape)} and {tuple(b.shape)} cannot be mixed")
    cols = min(a.shape[1], b.shape[1])
    return torch.cat([a[:, :cols, :k], b[:, :cols, k:]], dim=2)


def level_weights(weight: float | Sequence[float], levels: int) -> Tensor:
    """``w`` (one for every level, or one per level) as ``[Q]`` in ``[0, 1]``."""
    values = [weight] * levels if isinstance(weight, int | float) else list(weight)
    if len(values) != levels or any(
        isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1 for w in values
    ):
        raise EditError(
            f"weight must be a number in [0, 1] or a list of {levels} of them (one per level), "
            f"got {weight!r}"
        )
    return torch.tensor(values, dtype=torch.float32)


@torch.no_grad()
def blend(
    model: ConvVQVAE,
    a: Tensor,
    b: Tensor,
    weight: float | Sequence[float],
    columns: ColumnRange | None = None,
) -> Tensor:
    """Per position and level ``(1 - w_l) e_l(a) + w_l e_l(b)`` of the two grids' quantized
    embeddings (``e_l``: level ``l``'s codebook vector), summed over levels and re-quantized by
    the model's own ResidualVQ; inside ``columns`` of ``a`` (default: all), ``b`` aligned in
    time with ``a``. ``w = 0`` and ``w = 1`` return ``a``'s and ``b``'s codes (re-quantizing a
    quantized sum is not idempotent: ~85 % of the codes would come back)."""
    rows, cols, q = a.shape
    span = columns or ColumnRange(0, cols, 0.0)
    if b.shape[0] != rows or b.shape[2] != q:
        raise EditError(f"grids of shape {tuple(a.shape)} and {tuple(b.shape)} cannot be blended")
    if span.end > b.shape[1]:
        raise EditError(
            f"the blend range ends at column {span.end} but the second input has only "
            f"{b.shape[1]} columns: shorten range"
        )
    w = level_weights(weight, q).to(next(model.parameters()).device)
    out = a.clone()
    if bool((w == 0).all()) or bool((w == 1).all()):  # the endpoints are the inputs themselves
        out[:, span.start : span.end] = (a if bool((w == 0).all()) else b)[:, span.start : span.end]
        return out
    rvq = model.quantizer.rvq
    part = [g[:, span.start : span.end].reshape(1, -1, q).to(w.device) for g in (a, b)]
    codes_a, codes_b = (rvq.get_codes_from_indices(p) for p in part)  # [Q, 1, N, D] each
    w = w[:, None, None, None]
    mixed = rvq.project_out(((1 - w) * codes_a + w * codes_b).sum(dim=0))  # [1, N, D]
    was_training = model.training
    model.eval()  # no codebook updates, no dropout of levels
    try:
        _, indices, _ = model.quantizer(mixed)
    finally:
        model.train(was_training)
    out[:, span.start : span.end] = indices.reshape(rows, span.columns, q).cpu().long()
    return out


@dataclass(frozen=True)
class Segment:
    """``loops`` copies of columns ``span`` of grid ``source`` (a key of the grids given)."""

    source: str
    span: ColumnRange
    loops: int = 1


def splice(grids: dict[str, Tensor], segments: Sequence[Segment]) -> tuple[Tensor, list[int]]:
    """Concatenate the segments in order (cut = leave a range out, copy = name it twice, loop =
    ``loops``); returns the grid and the seams: the columns where a piece meets one that did not
    follow it in its source."""
    if not segments:
        raise EditError("splice needs at least one segment (parts=[a:START-END, ...])")
    pieces, seams, at, previous = [], [], 0, None
    for seg in segments:
        if seg.source not in grids:
            raise EditError(f"splice part from {seg.source!r}: no such input (use a or b)")
        piece = grids[seg.source][:, seg.span.start : seg.span.end]
        for _ in range(seg.loops):
            if pieces and previous != (seg.source, seg.span.start):  # not where the last ended
                seams.append(at)
            pieces.append(piece)
            at += piece.shape[1]
            previous = (seg.source, seg.span.end)
    shapes = {(p.shape[0], p.shape[2]) for p in pieces}
    if len(shapes) != 1:
        raise EditError("splice parts have different rows or levels: give codes of one VQ-VAE")
    return torch.cat(pieces, dim=1), seams
