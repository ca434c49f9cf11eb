"""Metrics that see time: each one separates mels from their time-shuffled copy (same frames,
other order), which the frame-level Fréchet distance cannot, and scores two sets drawn from the
same process as alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rvqvae.prior.activity import activity, reference_level_db
from rvqvae.prior.temporal import set_figures, time_shuffled
from rvqvae.prior.windowed import WINDOW_FRAMES, WindowFeatures, pooled_windows, prdc_scores

FRAME_S = 512 / 48000


def notes(n_files: int, seed: int, frames: int = 300, n_mels: int = 128) -> list[np.ndarray]:
    """Log-mels of decaying harmonic notes of 20-40 frames with gaps of 5-15 frames between."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_files):
        mel = 0.01 + 0.01 * rng.random((n_mels, frames))
        t = int(rng.integers(0, 10))
        while t < frames:
            length = int(rng.integers(20, 40))
            f0 = int(rng.integers(4, 30))
            envelope = 12.0 * np.exp(-np.arange(length) / 15.0)
            for h in range(1, 5):
                mel[min(n_mels - 1, f0 * h), t : t + length] += envelope[: frames - t] / h
            t += length + int(rng.integers(5, 15))
        out.append(mel)
    return out


@pytest.fixture(scope="module")
def figures() -> dict:
    train, val, other = notes(40, 0), notes(20, 1), notes(20, 2)
    sets = {"other": other, "shuffled": time_shuffled(val, seed=0)}
    return set_figures(train, val, sets, FRAME_S, seed=0)


def test_frame_fd_is_blind_to_order_the_windowed_fd_is_not(figures: dict) -> None:
    assert figures["fd_shuffled"] == pytest.approx(0.0, abs=1e-6)  # the same frames
    assert figures["fd_other"] > 10 * figures["fd_shuffled"]
    assert figures["wfd_shuffled"] > 5 * figures["wfd_other"]
    # without the small-sample bias: the same process is closer still, the shuffle as far
    assert figures["wfd_inf_other"] < figures["wfd_other"]
    assert figures["wfd_inf_shuffled"] > 5 * figures["wfd_other"]


def test_two_sample_test_tells_shuffled_windows_apart(figures: dict) -> None:
    assert figures["c2st_shuffled"] > 0.9
    assert abs(figures["c2st_other"] - 0.5) < 0.15  # same process: near chance


def test_prdc_of_shuffled_windows_is_far_below_real_ones(figures: dict) -> None:
    for key in ("precision", "recall", "density", "coverage"):
        assert figures[f"{key}_other"] > 0.6, key
        assert figures[f"{key}_shuffled"] < 0.5 * figures[f"{key}_other"], key


def test_activity_run_lengths_and_onsets_see_time(figures: dict) -> None:
    # the silent fraction counts frames: equal for the shuffled copy (documented as blind)
    assert figures["silent_fraction_shuffled"] == figures["silent_fraction_validation"]
    assert 0.1 < figures["silent_fraction_validation"] < 0.4
    for key in ("silent_run_s", "active_run_s"):
        assert figures[f"{key}_shuffled"] < 0.5 * figures[f"{key}_validation"], key
        assert figures[f"{key}_other"] == pytest.approx(figures[f"{key}_validation"], rel=0.2)
    assert figures["onsets_per_s_shuffled"] > 2 * figures["onsets_per_s_validation"]
    assert figures["loudness_spread_db_shuffled"] < figures["loudness_spread_db_validation"]


def test_activity_counts_silence_runs_and_onsets_of_a_known_signal() -> None:
    # 1 s of sound, 0.5 s of silence, 1 s of sound: two onsets, one silent run of 0.5 s
    frames_1s = round(1 / FRAME_S)
    loud, quiet = np.full((8, frames_1s), 10.0), np.zeros((8, frames_1s // 2))
    mel = np.concatenate([quiet[:, :4], loud, quiet, loud], axis=1)
    stats = activity([mel], reference_level_db([mel]), FRAME_S)
    assert stats.onsets_per_s * mel.shape[1] * FRAME_S == pytest.approx(2)
    assert stats.silent_fraction == pytest.approx((4 + frames_1s // 2) / mel.shape[1])
    assert stats.active_run_s == pytest.approx(frames_1s * FRAME_S)


def test_short_mels_give_no_windows_and_nan_figures() -> None:
    short = [np.ones((128, WINDOW_FRAMES - 1))]
    assert pooled_windows(short).shape[0] == 0
    with pytest.raises(ValueError, match="training files"):
        WindowFeatures(short)
    real = np.random.default_rng(0).standard_normal((20, 4))
    assert all(math.isnan(v) for v in prdc_scores(real, real[:3]).values())


def test_a_band_constant_in_the_training_files_does_not_blow_up_the_distance() -> None:
    # band-limited training files (nothing above bin 64, as 16 kHz speech resampled to 48 kHz):
    # faint noise there in another set must move the windowed FD a little, not by orders of
    # magnitude, and less than changing the notes themselves does
    def band_limited(mels: list[np.ndarray]) -> list[np.ndarray]:
        out = [m.copy() for m in mels]
        for i, m in enumerate(out):  # a dither-level floor: a standard deviation near, not at, 0
            m[64:] = 1e-4 * np.random.default_rng(100 + i).random(m[64:].shape)
        return out

    train, val = band_limited(notes(40, 0)), band_limited(notes(20, 1))
    hiss = [m.copy() for m in val]
    for i, m in enumerate(hiss):
        m[64:] += 0.02 * np.random.default_rng(i).random(m[64:].shape)
    figures = set_figures(train, val, {"hiss": hiss, "shuffled": time_shuffled(val, 0)}, FRAME_S)
    assert figures["wfd_hiss"] < 0.1 * figures["wfd_shuffled"]
    assert math.isfinite(figures["wfd_hiss"]) and figures["wfd_hiss"] < 10.0


def test_frechet_at_infinity_removes_the_small_sample_bias_and_ignores_repeats() -> None:
    """Two samples of one 16-dim Gaussian: the Fréchet distance of 60 windows is biased upwards
    (1.1-1.8 over seeds); the extrapolated figure is far nearer the true 0, a known mean shift
    is recovered, and a set repeated three times scores as itself (its distinct windows)."""
    from rvqvae.prior.windowed import frechet_at_infinity, windowed_frechet

    rng = np.random.default_rng(0)
    real = rng.standard_normal((4000, 16))
    fake = rng.standard_normal((60, 16))
    biased = windowed_frechet(real, fake)
    unbiased = frechet_at_infinity(real, fake)
    assert biased > 1.0 and abs(unbiased) < 0.3 * biased
    repeats = [fake, fake + 1e-12, fake - 1e-12]  # copies equal up to float rounding
    assert frechet_at_infinity(real, np.concatenate(repeats)) == pytest.approx(unbiased)
    shifted = frechet_at_infinity(real, fake + 0.5)  # a mean shift of 0.5 in 16 dims: FD 4
    assert shifted == pytest.approx(4.0, abs=1.0)
    assert np.isnan(frechet_at_infinity(real, fake[:5]))
