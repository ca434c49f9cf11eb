"""Activity statistics of log-mels: how much is silent, how long sounds and gaps last, how
often something starts, how much the loudness moves.

A frame's level is ``10 log10`` of its mean mel power (``expm1`` of the ``log1p`` log-mel).
A frame is *near-silent* when its level is more than ``SILENCE_BELOW_DB`` below the reference
level: the 95th percentile of the frame levels of a reference set (the training files), so
every set is judged by one threshold. An *onset* is an active frame at least ``ONSET_RISE_DB``
above the quietest of the ``ONSET_LOOKBACK`` frames before it, at least ``ONSET_GAP`` frames
after the previous onset. *Loudness spread* is the standard deviation of the level of ~1 s
windows (``WINDOW_FRAMES`` frames, half a window apart; levels floored at the silence
threshold). The silent fraction alone is a frame statistic (blind to order, like the frame
Fréchet distance); run lengths, onset rate and loudness spread see time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from torch import Tensor

from rvqvae.prior.windowed import WINDOW_FRAMES, WINDOW_HOP

SILENCE_BELOW_DB = 45.0
ONSET_RISE_DB = 9.0
ONSET_LOOKBACK = 4
ONSET_GAP = 8


def frame_levels_db(mel: np.ndarray | Tensor) -> np.ndarray:
    """Level in dB of each frame of a ``log1p`` log-mel ``[n_mels, frames]``."""
    power = np.expm1(np.clip(np.asarray(mel, dtype=np.float64), 0.0, None)).mean(axis=0)
    return 10.0 * np.log10(power + 1e-10)


def reference_level_db(mels: Sequence[np.ndarray | Tensor]) -> float:
    """The 95th percentile of the frame levels of ``mels`` (the silence threshold's anchor)."""
    levels = np.concatenate([frame_levels_db(m) for m in mels])
    return float(np.percentile(levels, 95))


def _runs(flags: np.ndarray) -> tuple[list[int], list[int]]:
    """Lengths of the runs of True and of False in a boolean sequence."""
    true, false = [], []
    if not len(flags):
        return true, false
    edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
    for chunk in np.split(flags, edges):
        (true if chunk[0] else false).append(len(chunk))
    return true, false


def _onsets(levels: np.ndarray, active: np.ndarray) -> int:
    count, last = 0, -ONSET_GAP
    for t in range(1, len(levels)):
        before = levels[max(0, t - ONSET_LOOKBACK) : t].min()
        if active[t] and levels[t] - before >= ONSET_RISE_DB and t - last >= ONSET_GAP:
            count, last = count + 1, t
    return count


@dataclass
class ActivityStats:
    """Activity of a set of mels (see the module docstring)."""

    silent_fraction: float
    silent_run_s: float  # mean length of near-silent runs (0 when there are none)
    active_run_s: float  # mean length of active runs
    onsets_per_s: float
    loudness_spread_db: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def activity(
    mels: Sequence[np.ndarray | Tensor], reference_db: float, frame_s: float
) -> ActivityStats:
    """Activity statistics of ``mels`` with the threshold ``reference_db - SILENCE_BELOW_DB``;
    ``frame_s``: seconds per mel frame."""
    threshold = reference_db - SILENCE_BELOW_DB
    silent_runs: list[int] = []
    active_runs: list[int] = []
    onsets = frames = silent = 0
    window_levels = []
    for mel in mels:
        levels = frame_levels_db(mel)
        active = levels >= threshold
        a, s = _runs(active)
        active_runs += a
        silent_runs += s
        onsets += _onsets(levels, active)
        frames += len(levels)
        silent += int((~active).sum())
        floored = np.maximum(levels, threshold)
        for start in range(0, max(1, len(levels) - WINDOW_FRAMES + 1), WINDOW_HOP):
            window_levels.append(float(floored[start : start + WINDOW_FRAMES].mean()))
    if not frames:
        raise ValueError("activity statistics need at least one mel frame")
    return ActivityStats(
        silent_fraction=silent / frames,
        silent_run_s=float(np.mean(silent_runs)) * frame_s if silent_runs else 0.0,
        active_run_s=float(np.mean(active_runs)) * frame_s if active_runs else 0.0,
        onsets_per_s=onsets / (frames * frame_s),
        loudness_spread_db=float(np.std(window_levels)),
    )


def silent_fraction_by_part(
    mels: Sequence[np.ndarray | Tensor], reference_db: float, parts: int = 4
) -> list[float]:
    """Near-silent fraction in each of ``parts`` equal parts of the mels (where breaks fall)."""
    threshold = reference_db - SILENCE_BELOW_DB
    out = []
    for k in range(parts):
        silent = frames = 0
        for mel in mels:
            levels = frame_levels_db(mel)
            n = len(levels)
            part = levels[k * n // parts : (k + 1) * n // parts]
            silent += int((part < threshold).sum())
            frames += len(part)
        out.append(silent / max(frames, 1))
    return out
