"""Metrics that see time: ~1 s log-mel windows as features, compared between two sets of mels.

The feature (:class:`WindowFeatures`) is fixed and documented so that figures compare across
runs: every window of ``WINDOW_FRAMES`` mel frames (96 frames = 1.02 s at 48 kHz / hop 512,
half a window apart) is pooled to ``MEL_BANDS`` x ``TIME_SEGMENTS`` means (16 bands of 8 mel
bins x 8 segments of 12 frames: 128 values, coarse enough to ignore exact pitch, fine enough to
keep notes, gaps and onsets in order) plus, per band, the mean absolute change from one frame to
the next (16 values: how smoothly the band moves); the 144 values are centred, scaled per kind of
value (the 128 means by their pooled standard deviation, the 16 changes by theirs: log-mel units
kept, so a band that barely moves in the training files weighs as little as it moves) and
projected on the first ``PCA_DIMS`` principal components, all fitted on the *training* files'
windows. Per-value standardisation would blow up bands that are constant in the training files
(band-limited recordings: 16 kHz speech at 48 kHz has no energy above 8 kHz): any noise a model
puts there was divided by a standard deviation near 0, and distances reached 1e13.
A frame-level statistic cannot see order (the frames of a file shuffled in time have the same
mean and covariance); a window feature does.

- :func:`windowed_frechet`: Fréchet distance between the Gaussians of two window sets.
- :func:`frechet_at_infinity`: the same extrapolated to infinitely many distinct generated
  windows, so that sets of different sizes or with repeated windows compare fairly.
- :func:`two_sample_accuracy`: cross-validated accuracy of a logistic classifier telling the
  two sets apart (0.5 = indistinguishable, 1.0 = always told apart).
- :func:`prdc_scores`: precision, recall, density and coverage (Naeem et al. 2020, the ``prdc``
  package) of generated windows against real ones.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np
from torch import Tensor

from rvqvae.prior.metrics import frechet_distance

WINDOW_FRAMES = 96
WINDOW_HOP = 48
MEL_BANDS = 16
TIME_SEGMENTS = 8
PCA_DIMS = 32


def pooled_windows(mels: Sequence[np.ndarray | Tensor]) -> np.ndarray:
    """Pooled windows ``[N, MEL_BANDS * (TIME_SEGMENTS + 1)]`` of log-mels ``[n_mels, frames]``
    (segment means, then mean frame-to-frame change per band); a mel shorter than one window
    gives none."""
    out = []
    seg = WINDOW_FRAMES // TIME_SEGMENTS
    for mel in mels:
        m = np.asarray(mel, dtype=np.float64)
        n_mels, frames = m.shape
        per_band = n_mels // MEL_BANDS
        if per_band < 1:
            raise ValueError(f"windowed metrics need >= {MEL_BANDS} mel bins, got {n_mels}")
        if frames < WINDOW_FRAMES:
            continue
        bands = m[: per_band * MEL_BANDS].reshape(MEL_BANDS, per_band, frames).mean(axis=1)
        starts = range(0, frames - WINDOW_FRAMES + 1, WINDOW_HOP)
        for s in starts:
            window = bands[:, s : s + WINDOW_FRAMES]
            means = window.reshape(MEL_BANDS, TIME_SEGMENTS, seg).mean(-1).reshape(-1)
            change = np.abs(np.diff(window, axis=1)).mean(axis=1)
            out.append(np.concatenate([means, change]))
    return np.stack(out) if out else np.zeros((0, MEL_BANDS * (TIME_SEGMENTS + 1)))


def group_scales(pooled: np.ndarray) -> np.ndarray:
    """``[D]`` scale of every pooled value: the pooled (root-mean-square) standard deviation of
    its group, the segment means or the frame-to-frame changes (1 where a group never moves)."""
    means = MEL_BANDS * TIME_SEGMENTS
    scales = np.empty(pooled.shape[1])
    for group in (slice(0, means), slice(means, pooled.shape[1])):
        spread = float(np.sqrt(pooled[:, group].var(axis=0).mean()))
        scales[group] = spread if spread > 0 else 1.0
    return scales


class WindowFeatures:
    """Pooled windows, centred, scaled per group (:func:`group_scales`) and projected on the
    principal components of the reference (training) mels' windows."""

    def __init__(self, reference: Sequence[np.ndarray | Tensor], dims: int = PCA_DIMS) -> None:
        from sklearn.decomposition import PCA

        pooled = pooled_windows(reference)
        if pooled.shape[0] < 3:
            raise ValueError(
                f"windowed metrics need at least 3 windows of {WINDOW_FRAMES} mel frames in the "
                f"training files, got {pooled.shape[0]}: use longer files"
            )
        self.dims = min(dims, pooled.shape[0] - 1, pooled.shape[1])
        self.center = pooled.mean(axis=0)
        self.scales = group_scales(pooled)
        self.pca = PCA(n_components=self.dims).fit((pooled - self.center) / self.scales)

    def __call__(self, mels: Sequence[np.ndarray | Tensor]) -> np.ndarray:
        """Features ``[N, dims]`` of every window of ``mels``."""
        pooled = pooled_windows(mels)
        if not len(pooled):
            return np.zeros((0, self.dims))
        return self.pca.transform((pooled - self.center) / self.scales)


def windowed_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two window feature sets ``[N, D]``;
    NaN when either set has fewer than 2 windows."""
    if min(len(real), len(fake)) < 2:
        return float("nan")
    return frechet_distance([real.T], [fake.T])


def frechet_at_infinity(
    real: np.ndarray,
    fake: np.ndarray,
    shares: Sequence[float] = (0.5, 0.625, 0.75, 0.875, 1.0),
    draws: int = 5,
    seed: int = 0,
) -> float:
    """:func:`windowed_frechet` extrapolated to infinitely many ``fake`` windows (Chong and
    Forsyth 2020: the Fréchet distance is linear in 1/N): on random subsets of the *distinct*
    fake windows at each share of them (``draws`` each), a line fitted against 1/N and its
    intercept. A set of repeated windows (a deterministic fill drawn for several seeds) counts
    once per distinct window, so it is not flattered against sets that vary. NaN under 8
    distinct windows."""
    _, first = np.unique(np.round(fake, 6), axis=0, return_index=True)  # equal up to rounding
    distinct = fake[np.sort(first)]
    n = len(distinct)
    if n < 8 or len(real) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    inverse, distance = [], []
    for share in shares:
        size = max(4, round(share * n))
        for _ in range(draws if size < n else 1):
            subset = distinct[rng.choice(n, size, replace=False)]
            inverse.append(1.0 / size)
            distance.append(windowed_frechet(real, subset))
    slope, intercept = np.polyfit(inverse, distance, 1)
    return float(intercept)


def _balanced(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n = min(len(a), len(b))
    return a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]


def two_sample_accuracy(real: np.ndarray, fake: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic regression (standardised features) telling equal
    numbers of ``real`` and ``fake`` windows apart (``folds``-fold, fewer with fewer windows);
    NaN with fewer than 2 of each."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a, b = _balanced(real, fake, np.random.default_rng(seed))
    if len(a) < 2:
        return float("nan")
    folds = min(folds, len(a))
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, x, y, cv=split, scoring="accuracy").mean())


def prdc_scores(real: np.ndarray, fake: np.ndarray, nearest_k: int = 5) -> dict[str, float]:
    """``precision``, ``recall``, ``density``, ``coverage`` of ``fake`` against ``real`` windows
    (k nearest neighbours in feature space); NaN when either set has <= ``nearest_k + 1``
    windows."""
    keys = ("precision", "recall", "density", "coverage")
    if min(len(real), len(fake)) <= nearest_k + 1:
        return dict.fromkeys(keys, float("nan"))
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints the set sizes
        scores = compute_prdc(real_features=real, fake_features=fake, nearest_k=nearest_k)
    return {k: float(scores[k]) for k in keys}
