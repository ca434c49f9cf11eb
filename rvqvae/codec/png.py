"""Mel spectrogram PNGs of any length (bounded reads of memory-mapped mels)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rvqvae.atomic import atomic_path

PNG_MAX_COLUMNS = 2000


def save_mel_png(
    mel: np.ndarray, path: str | os.PathLike[str], settings_hop_s: float, title: str = ""
) -> Path:
    """Write the PNG of :func:`render_mel_png` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        render_mel_png(mel, tmp, settings_hop_s, title)
    return Path(path)


def render_mel_png(
    mel: np.ndarray, path: str | os.PathLike[str], settings_hop_s: float, title: str = ""
) -> None:
    """PNG of a (possibly memory-mapped) mel, averaged down to <= PNG_MAX_COLUMNS columns.

    Writes ``path`` in place (PNG whatever its suffix); callers that need the file whole or not
    at all use :func:`save_mel_png` or their own :func:`rvqvae.atomic.atomic_path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_mels, frames = mel.shape
    step = max(1, -(-frames // PNG_MAX_COLUMNS))
    cols = []
    for f0 in range(0, frames, step * 256):  # bounded reads of the memmap
        block = np.asarray(mel[:, f0 : f0 + step * 256], dtype=np.float32)
        usable = block.shape[1] // step * step
        if usable:
            cols.append(block[:, :usable].reshape(n_mels, -1, step).mean(axis=2))
        if block.shape[1] > usable:
            cols.append(block[:, usable:].mean(axis=1, keepdims=True))
    img = np.concatenate(cols, axis=1)
    duration = frames * settings_hop_s
    fig, ax = plt.subplots(figsize=(min(16.0, 4 + duration / 2), 4))
    try:
        ax.imshow(img, origin="lower", aspect="auto", cmap="magma", extent=(0, duration, 0, n_mels))
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel bin")
        if title:
            ax.set_title(title)
        width = fig.get_size_inches()[0]  # fixed margins (inches): tight_layout measured texts
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.55 / 4, top=0.9)
        fig.savefig(path, dpi=100, format="png")
    finally:
        plt.close(fig)
