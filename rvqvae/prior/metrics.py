"""Offline measures of a prior: unigram baseline, Fréchet distance, memorisation.

- :class:`UnigramBaseline`: per-row, per-level code frequencies of the training grids (add-alpha
  smoothed) - the bits/s a model without any context needs, and a sampler of such codes.
- :func:`frechet_distance`: between the Gaussians fitted to two sets of log-mel frames
  (``[N, n_mels]``), the audio analogue of FID with the mel frame as the feature.
- :func:`longest_copy` and :func:`nearest_distances`: how much a generated grid repeats the
  training grids (exact column runs, and Hamming distance of windows to their nearest training
  window).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


class UnigramBaseline:
    """Code probabilities per (row, level) from training grids ``[rows, cols, levels]``."""

    def __init__(self, grids: Sequence[Tensor], codebook_size: int, alpha: float = 0.5) -> None:
        if not grids:
            raise ValueError("the unigram baseline needs at least one training grid")
        rows, _, levels = grids[0].shape
        counts = torch.zeros(rows, levels, codebook_size, dtype=torch.float64)
        for grid in grids:
            one_hot = torch.nn.functional.one_hot(grid.long(), codebook_size)  # [R, C, Q, K]
            counts += one_hot.sum(dim=1).double()
        self.counts = counts
        self.log_probs = torch.log((counts + alpha) / (counts + alpha).sum(-1, keepdim=True))

    def nll_per_level(self, grid: Tensor) -> Tensor:
        """Summed negative log-likelihood (nats) of ``grid [rows, cols, levels]`` per level."""
        rows, cols, levels = grid.shape
        lp = self.log_probs[:, None].expand(rows, cols, levels, -1)  # [R, C, Q, K]
        picked = lp.gather(-1, grid.long()[..., None])[..., 0]  # [R, C, Q]
        return -picked.sum(dim=(0, 1))

    def sample(self, num: int, columns: int, generator: torch.Generator) -> Tensor:
        """``[num, rows, columns, levels]`` codes drawn independently from the frequencies."""
        rows, levels, k = self.log_probs.shape
        probs = self.log_probs.exp().reshape(rows * levels, k).float()
        draws = torch.multinomial(probs, num * columns, replacement=True, generator=generator)
        return draws.reshape(rows, levels, num, columns).permute(2, 0, 3, 1).contiguous()


def frame_statistics(mels: Sequence[np.ndarray | Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[n_mels]`` and covariance ``[n_mels, n_mels]`` of every frame of ``mels``."""
    frames = np.concatenate([np.asarray(m, dtype=np.float64).T for m in mels], axis=0)
    if frames.shape[0] < 2:
        raise ValueError("Fréchet distance needs at least two mel frames")
    return frames.mean(axis=0), np.cov(frames, rowvar=False)


def frechet_distance(a: Sequence[np.ndarray | Tensor], b: Sequence[np.ndarray | Tensor]) -> float:
    """Fréchet distance between the frame Gaussians of mels ``a`` and ``b`` (each ``[M, T]``).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; the trace of the matrix square root
    is the sum of the square roots of the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)``.
    """
    mu_a, cov_a = frame_statistics(a)
    mu_b, cov_b = frame_statistics(b)
    vals, vecs = np.linalg.eigh(cov_a)
    sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
    return max(value, 0.0)


def longest_copy(generated: Tensor, training: Sequence[Tensor]) -> int:
    """Longest run of consecutive columns of ``generated [cols, S]`` that equals a run of
    consecutive columns of one training sequence ``[cols_i, S]`` exactly (all slots)."""
    best = 0
    gen = generated.long()
    for train in training:
        # same[i, j]: generated column i == training column j
        same = (gen[:, None, :] == train.long()[None, :, :]).all(dim=-1).numpy()
        run = np.zeros(same.shape[1] + 1, dtype=np.int64)
        for i in range(same.shape[0]):
            run = np.concatenate([[0], (run[:-1] + 1) * same[i]])
            best = max(best, int(run.max()))
    return best


def windows(columns: Tensor, width: int) -> Tensor:
    """All windows of ``width`` consecutive columns of ``[cols, S]`` -> ``[n, width * S]``."""
    if columns.shape[0] < width:
        return columns.new_zeros(0, width * columns.shape[1])
    return columns.unfold(0, width, 1).transpose(1, 2).reshape(-1, width * columns.shape[1])


def nearest_distances(queries: Tensor, references: Tensor, block: int = 256) -> Tensor:
    """Hamming distance (fraction of differing codes) of each query window to its nearest
    reference window: ``[n_queries]`` from ``[n_q, L]`` and ``[n_r, L]``."""
    if references.shape[0] == 0 or queries.shape[0] == 0:
        return torch.full((queries.shape[0],), math.nan)
    out = []
    refs = references.long()
    for q in queries.long().split(block):
        differ = (q[:, None, :] != refs[None, :, :]).float().mean(dim=-1)  # [b, n_r]
        out.append(differ.min(dim=1).values)
    return torch.cat(out)
