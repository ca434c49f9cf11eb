"""The table of sample figures: each set of mels against the validation files, with its floors
and ceilings.

:func:`set_figures` measures named sets of log-mels (prior samples, and the reference rows:
training files, VQ-VAE reconstructions of the validation files, unigram samples, validation
shuffled in time) against the validation files: frame-level Fréchet distance (``fd_NAME``,
blind to order: the shuffled validation scores 0), windowed Fréchet distance (``wfd_NAME``; and
``wfd_inf_NAME``, the same extrapolated to infinitely many distinct windows, free of the
small-sample bias that favours larger and repeated sets: :func:`frechet_at_infinity`),
two-sample classifier accuracy (``c2st_NAME``), precision/recall/density/coverage of windows
(``precision_NAME`` ...) and activity statistics (``silent_fraction_NAME`` ...; also for
``validation`` itself). Training files vs validation is the real-vs-real floor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor

from rvqvae.prior.activity import activity, reference_level_db, silent_fraction_by_part
from rvqvae.prior.metrics import frechet_distance
from rvqvae.prior.windowed import (
    WindowFeatures,
    frechet_at_infinity,
    prdc_scores,
    two_sample_accuracy,
    windowed_frechet,
)


def time_shuffled(mels: Sequence[np.ndarray | Tensor], seed: int = 0) -> list[np.ndarray]:
    """Each mel ``[n_mels, frames]`` with its frames in a random order (same frame statistics,
    no temporal structure)."""
    rng = np.random.default_rng(seed)
    out = []
    for mel in mels:
        m = np.asarray(mel)
        out.append(m[:, rng.permutation(m.shape[1])])
    return out


def set_figures(
    train_mels: Sequence[np.ndarray | Tensor],
    val_mels: Sequence[np.ndarray | Tensor],
    sets: Mapping[str, Sequence[np.ndarray | Tensor]],
    frame_s: float,
    seed: int = 0,
) -> dict[str, float | list[float]]:
    """Figures of every named set against ``val_mels`` (window PCA and silence threshold from
    ``train_mels``); ``frame_s``: seconds per mel frame. Keys: see the module docstring, plus
    ``silent_quarters_NAME`` (near-silent fraction per quarter of the mels)."""
    features = WindowFeatures(train_mels)
    real = features(val_mels)
    val_list = list(val_mels)
    reference_db = reference_level_db(train_mels)
    out: dict[str, float | list[float]] = {}
    for key, value in activity(val_list, reference_db, frame_s).to_dict().items():
        out[f"{key}_validation"] = value
    for name, mels in sets.items():
        mels = list(mels)
        fake = features(mels)
        out[f"fd_{name}"] = frechet_distance(val_list, mels)
        out[f"wfd_{name}"] = windowed_frechet(real, fake)
        out[f"wfd_inf_{name}"] = frechet_at_infinity(real, fake, seed=seed)
        out[f"c2st_{name}"] = two_sample_accuracy(real, fake, seed=seed)
        for key, value in prdc_scores(real, fake).items():
            out[f"{key}_{name}"] = value
        for key, value in activity(mels, reference_db, frame_s).to_dict().items():
            out[f"{key}_{name}"] = value
        out[f"silent_quarters_{name}"] = silent_fraction_by_part(mels, reference_db)
    return out
