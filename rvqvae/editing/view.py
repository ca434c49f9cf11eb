"""The code grid view: each level's codes as an image, aligned in time above the decoded mel,
with each level's code usage; edit ranges and seams drawn as lines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rvqvae.atomic import atomic_path
from rvqvae.models.codebook import codebook_utilization


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
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(fig)
    return Path(path)
