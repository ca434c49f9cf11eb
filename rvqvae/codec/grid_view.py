"""The code grid view: each level's codes as an image, aligned in time above the decoded mel,
with each level's code usage; edit ranges and seams drawn as lines. One renderer for the edit
op ``show`` and every edit's PNG, the VQ-VAE's validation files at the end of training, and
the prior's samples (``rvqvae.editing.view`` names it for the editing API)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rvqvae.atomic import atomic_path
from rvqvae.data.mel import MelSettings
from rvqvae.models.codebook import codebook_utilization
from rvqvae.models.vqvae import DOWNSAMPLE, ConvVQVAE


def code_usage(grid: Tensor, codebook_size: int) -> list[dict[str, float]]:
    """Per level: codes used (count and fraction of the codebook) and perplexity of ``grid``."""
    health = codebook_utilization(grid.reshape(-1, grid.shape[-1]), codebook_size)
    return [
        {
            "used": codebook_size - int(h["dead_codes"]),
            "utilization": float(h["utilization"]),
            "perplexity": float(h["perplexity"]),
        }
        for h in (health[f"level_{q}"] for q in range(grid.shape[-1]))
    ]


def save_grid_view(
    grid: Tensor,
    mel: np.ndarray,
    path: str | os.PathLike[str],
    column_s: float,
    hop_s: float,
    codebook_size: int,
    title: str = "",
    marks_s: Sequence[float] = (),
) -> Path:
    """PNG of ``grid [rows, cols, Q]`` (one panel per level, colour = code index) above ``mel
    [n_mels, frames]`` on one time axis; vertical lines at ``marks_s`` seconds. Atomic write."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols, levels = grid.shape
    usage = code_usage(grid, codebook_size)
    duration = max(cols * column_s, mel.shape[1] * hop_s)
    heights = [1.0] * levels + [2.5]
    fig, axes = plt.subplots(
        levels + 1,
        1,
        figsize=(min(16.0, 4 + duration / 2), 1.2 * levels + 3),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    try:
        for q in range(levels):
            ax: Any = axes[q]
            ax.imshow(
                grid[:, :, q].numpy(),
                origin="lower",
                aspect="auto",
                cmap="nipy_spectral",
                vmin=0,
                vmax=codebook_size - 1,
                interpolation="nearest",
                extent=(0, cols * column_s, 0, rows),
            )
            u = usage[q]
            ax.set_ylabel(f"L{q}", rotation=0, labelpad=12)
            ax.set_yticks([])
            ax.set_title(
                f"level {q}: {u['used']}/{codebook_size} codes used, perplexity "
                f"{u['perplexity']:.1f}",
                fontsize=8,
                loc="left",
            )
        ax = axes[levels]
        ax.imshow(
            mel, origin="lower", aspect="auto", cmap="magma", extent=(0, mel.shape[1] * hop_s, 0, 1)
        )
        ax.set_yticks([])
        ax.set_ylabel("mel")
        ax.set_xlabel("time (s)")
        for axis in axes:
            for t in marks_s:
                axis.axvline(t, color="white", linewidth=1.2, linestyle="--")
        if title:
            fig.suptitle(title, fontsize=9)
        _fixed_margins(fig, bool(title))
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _fixed_margins(fig: Any, titled: bool) -> None:
    """Margins in inches (room for the level labels, panel titles and the time axis):
    ``tight_layout`` measured every text to find them, a third of a view's time."""
    width, height = fig.get_size_inches()
    top = 0.55 if titled else 0.3
    fig.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.15 / width,
        bottom=0.5 / height,
        top=1 - top / height,
        hspace=0.45,
    )


def save_codes_view(
    grid: Tensor,
    mel: np.ndarray,
    path: str | os.PathLike[str],
    settings: MelSettings,
    codebook_size: int,
    title: str = "",
) -> Path:
    """:func:`save_grid_view` with the time axes of ``settings`` (a grid column is 16 frames)."""
    hop_s = settings.hop_length / settings.sample_rate
    return save_grid_view(grid, mel, path, DOWNSAMPLE * hop_s, hop_s, codebook_size, title)


def save_mel_codes_view(
    model: ConvVQVAE,
    mel: np.ndarray | Tensor,
    path: str | os.PathLike[str],
    settings: MelSettings,
    title: str = "",
) -> Path:
    """Encode a whole mel ``[n_mels, frames]`` with ``model`` (eval mode) into its grid and write
    the grid's view above the mel the grid decodes to."""
    from rvqvae.codec.grid import decode_grid, encode_grid

    mel_t = torch.as_tensor(np.asarray(mel, dtype=np.float32))
    grid = encode_grid(model, mel_t)
    decoded = decode_grid(model, grid, mel_t.shape[1], mel_t.shape[0]).numpy()
    return save_codes_view(grid, decoded, path, settings, model.codebook_size, title)
