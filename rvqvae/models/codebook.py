"""Codebook health per RVQ level: utilization, perplexity and dead codes."""

from __future__ import annotations

import torch
from torch import Tensor


def codebook_utilization(indices: Tensor, codebook_size: int) -> dict[str, dict[str, float]]:
    """Codebook health per level of ``indices`` ``[..., Q]``; entries equal to -1 are ignored.

    Returns ``{"level_k": {"utilization", "perplexity", "dead_codes"}}`` where utilization is
    used codes / codebook size, perplexity is exp of the code-usage entropy (nats) and
    dead_codes is the number of codes never used.
    """
    flat = indices.reshape(-1, indices.shape[-1]).long().cpu()  # [N, Q]
    counts = torch.stack(
        [torch.bincount(col[col >= 0], minlength=codebook_size) for col in flat.unbind(dim=1)]
    )
    return codebook_utilization_from_counts(counts)


def codebook_utilization_from_counts(counts: Tensor) -> dict[str, dict[str, float]]:
    """Codebook health per level from code-usage counts ``[Q, codebook_size]``."""
    counts = counts.double()
    codebook_size = counts.shape[1]
    result: dict[str, dict[str, float]] = {}
    for level, level_counts in enumerate(counts):
        used = int((level_counts > 0).sum())
        total = level_counts.sum()
        perplexity = 0.0
        if total > 0:
            probs = level_counts[level_counts > 0] / total
            perplexity = float(torch.exp(-(probs * probs.log()).sum()))
        result[f"level_{level}"] = {
            "utilization": used / codebook_size,
            "perplexity": perplexity,
            "dead_codes": int(codebook_size - used),
        }
    return result
