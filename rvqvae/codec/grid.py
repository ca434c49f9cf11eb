"""Whole-file code grids: a file's mel encoded in one pass, decoded in one pass.

The ConvVQVAE is fully convolutional, so a whole mel ``[n_mels, F]`` maps to one time-continuous
grid of codes ``[rows, columns, levels]`` with ``rows = ceil(n_mels / 16)`` and
``columns = ceil(F / 16)`` (8 rows x 5.86 columns per second x Q levels at 48 kHz / hop 512),
instead of a sequence of overlapping 1 s chunks. Priors model these grids, and a generated grid
of any length decodes in one pass with no chunk seams.

Long inputs are processed in column blocks with a margin of :data:`MARGIN_COLUMNS` columns on
each side, so memory stays bounded. The encoder's receptive field is 31 frames (< 2 columns),
so every kept column sees exactly what it would see in a single pass: blocks give the same codes
and the same mel as one pass (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rvqvae.models.vqvae import DOWNSAMPLE, ConvVQVAE, latent_shape

MARGIN_COLUMNS = 2  # context columns on each side of a block (receptive field < 2 columns)
BLOCK_COLUMNS = 256  # columns per block (~44 s at 48 kHz / hop 512)


def grid_columns(n_frames: int) -> int:
    """Columns of the code grid of an ``n_frames`` mel: ``ceil(n_frames / 16)``."""
    return -(-int(n_frames) // DOWNSAMPLE)


def _encode_block(model: ConvVQVAE, mel: Tensor) -> Tensor:
    """``[B, 1, n_mels, F]`` -> indices ``[B, rows, ceil(F / 16), Q]`` (one pass)."""
    emb = model.encode(mel)  # [B, D, rows, columns]
    _, indices, _ = model.quantize(emb)  # [B, rows * columns, Q]
    b, _, rows, columns = emb.shape
    return indices.reshape(b, rows, columns, -1)


@torch.no_grad()
def encode_grid(model: ConvVQVAE, mel: Tensor, block_columns: int = BLOCK_COLUMNS) -> Tensor:
    """Whole mels ``[n_mels, F]`` or ``[B, n_mels, F]`` -> code grids ``[(B,) rows, cols, Q]``.

    ``model`` should be in eval mode (BatchNorm running statistics, no codebook updates).
    """
    single = mel.ndim == 2
    x = (mel[None] if single else mel).unsqueeze(1).float()  # [B, 1, n_mels, F]
    n_frames = x.shape[-1]
    columns = grid_columns(n_frames)
    x = x.to(next(model.parameters()).device)
    if columns <= block_columns + 2 * MARGIN_COLUMNS:
        grid = _encode_block(model, x)
    else:
        parts = []
        for c0 in range(0, columns, block_columns):
            c1 = min(columns, c0 + block_columns)
            lo = max(0, c0 - MARGIN_COLUMNS)
            hi = min(columns, c1 + MARGIN_COLUMNS)
            block = _encode_block(model, x[..., lo * DOWNSAMPLE : hi * DOWNSAMPLE])
            parts.append(block[:, :, c0 - lo : c0 - lo + (c1 - c0)])
        grid = torch.cat(parts, dim=2)
    grid = grid.cpu()
    return grid[0] if single else grid


def _decode_block(model: ConvVQVAE, grid: Tensor, n_frames: int, levels: int | None) -> Tensor:
    """``[B, rows, cols, Q]`` -> mel ``[B, n_mels, n_frames]`` (one pass)."""
    b, rows, cols, q = grid.shape
    n_mels = rows * DOWNSAMPLE
    mel = model.decode_codes(
        grid.reshape(b, rows * cols, q), (rows, cols), (n_mels, n_frames), levels=levels
    )
    return mel[:, 0]


@torch.no_grad()
def decode_grid(
    model: ConvVQVAE,
    grid: Tensor,
    n_frames: int | None = None,
    n_mels: int | None = None,
    levels: int | None = None,
    block_columns: int = BLOCK_COLUMNS,
) -> Tensor:
    """Code grids ``[(B,) rows, cols, Q]`` -> mels ``[(B,) n_mels, n_frames]`` (CPU float32).

    ``n_frames`` defaults to ``16 * cols`` and must fit the grid (``ceil(n_frames / 16) ==
    cols``); ``n_mels`` defaults to ``16 * rows``; ``levels`` decodes with the first K levels.
    """
    single = grid.ndim == 3
    g = (grid[None] if single else grid).long()
    if g.ndim != 4:
        raise ValueError(f"grid must be [(B,) rows, columns, levels], got {tuple(grid.shape)}")
    rows, columns = g.shape[1], g.shape[2]
    n_frames = columns * DOWNSAMPLE if n_frames is None else int(n_frames)
    n_mels = rows * DOWNSAMPLE if n_mels is None else int(n_mels)
    if latent_shape(n_mels, n_frames) != (rows, columns):
        raise ValueError(
            f"a grid of {rows} x {columns} decodes to ceil(n/16) = ({rows}, {columns}), "
            f"not to a mel of {n_mels} x {n_frames}"
        )
    g = g.to(next(model.parameters()).device)
    if columns <= block_columns + 2 * MARGIN_COLUMNS:
        mel = _decode_block(model, g, columns * DOWNSAMPLE, levels)
    else:
        parts = []
        for c0 in range(0, columns, block_columns):
            c1 = min(columns, c0 + block_columns)
            lo = max(0, c0 - MARGIN_COLUMNS)
            hi = min(columns, c1 + MARGIN_COLUMNS)
            block = _decode_block(model, g[:, :, lo:hi], (hi - lo) * DOWNSAMPLE, levels)
            f0 = (c0 - lo) * DOWNSAMPLE
            parts.append(block[..., f0 : f0 + (c1 - c0) * DOWNSAMPLE])
        mel = torch.cat(parts, dim=-1)
    mel = mel[:, :n_mels, :n_frames].float().cpu()
    return mel[0] if single else mel
