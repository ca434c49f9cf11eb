"""Seams: how much the mel jumps across an edit boundary, against the natural frame-to-frame
change of real files.

The decoder's receptive field spreads a boundary over a few frames, so a seam's *jump* is the
largest frame-to-frame change (mean absolute log-mel difference over the bins) within half a
column on either side of the boundary frame; the natural reference is the same statistic at
every interior column boundary of unedited mels. A seam at the natural median is as loud as
the music's own changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from rvqvae.models.vqvae import DOWNSAMPLE

HALF = DOWNSAMPLE // 2  # frames on each side of a boundary


def frame_change(mel: np.ndarray | Tensor) -> np.ndarray:
    """Mean absolute change of ``mel [n_mels, frames]`` from each frame to the next ``[F-1]``."""
    m = np.asarray(mel, dtype=np.float64)
    return np.abs(np.diff(m, axis=1)).mean(axis=0)


def boundary_jump(mel: np.ndarray | Tensor, column: int) -> float:
    """The largest frame change within ``HALF`` frames of the start of ``column``."""
    change = frame_change(mel)
    f = column * DOWNSAMPLE
    lo, hi = max(0, f - HALF), min(len(change), f + HALF)
    return float(change[lo:hi].max()) if hi > lo else float("nan")


def natural_jumps(mels: Sequence[np.ndarray | Tensor]) -> np.ndarray:
    """:func:`boundary_jump` at every interior column boundary of ``mels`` (the reference)."""
    out = []
    for mel in mels:
        columns = np.asarray(mel).shape[1] // DOWNSAMPLE
        out.extend(boundary_jump(mel, c) for c in range(1, columns))
    return np.asarray(out)


def seam_figures(jumps: Sequence[float], natural: np.ndarray) -> dict[str, float]:
    """Median seam jump, the natural median and 90th percentile, and the fraction of natural
    boundaries that change less than the median seam (0.5 = as loud as the music)."""
    seams = np.asarray(jumps, dtype=np.float64)
    median = float(np.median(seams)) if len(seams) else float("nan")
    return {
        "seam_jump_median": median,
        "natural_jump_median": float(np.median(natural)),
        "natural_jump_p90": float(np.percentile(natural, 90)),
        "seam_percentile": float((natural < median).mean()),
        "seams": int(len(seams)),
    }
