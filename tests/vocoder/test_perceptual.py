"""What a run sounds like (rvqvae/vocoder/perceptual.py): ViSQOL scores an identical signal at
its maximum and a degraded one lower; the same synthesis of mel and reconstruction cancels the
synthesiser out; multi-resolution LSD grows with the damage."""

from __future__ import annotations

import numpy as np
import pytest

from rvqvae.data.mel import MelSettings
from rvqvae.vocoder.perceptual import multires_lsd, perceptual_scores, summary_entries, visqol
from rvqvae.vocoder.synthesize import Synthesizer

RATE = 48000


def tone(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    y = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 6))
    return (0.3 * y * np.minimum(1.0, t * 20)).astype(np.float32)


def test_visqol_identical_is_max_and_noise_is_lower() -> None:
    y = tone()
    noisy = y + 0.02 * np.random.default_rng(0).standard_normal(y.shape[0]).astype(np.float32)
    same, degraded = visqol(y, y, RATE), visqol(y, noisy, RATE)
    assert same == pytest.approx(4.73, abs=0.01)
    assert degraded < same - 0.5
    # another rate is resampled to ViSQOL's 48 kHz, a short clip padded to ViSQOL's minimum
    low = tone(0.5, rate=16000)
    assert visqol(low, low, 16000) == pytest.approx(4.73, abs=0.01)


def test_scores_see_the_reconstruction_not_the_synthesiser() -> None:
    settings = MelSettings()
    synth = Synthesizer(settings, None, griffin_lim_iters=4)
    audios = [tone()]
    exact = perceptual_scores(audios, settings, lambda mel: mel, synth, sizes=(512,))
    # the same Griffin-Lim of the same mel: identical audio, ViSQOL at its maximum
    assert exact["visqol"] == pytest.approx(4.73, abs=0.01)
    assert exact["lsd"] == pytest.approx(exact["lsd_ceiling"])
    assert exact["visqol_ceiling"] < exact["visqol"]  # 4 Griffin-Lim iterations vs the original

    def blurred(mel: np.ndarray) -> np.ndarray:  # partials moved up 3 mel bands, and smeared
        out = np.roll(mel, 3, axis=0)
        return (out + np.roll(out, 1, axis=0)) / 2

    lossy = perceptual_scores(audios, settings, blurred, synth, sizes=(512,))
    assert lossy["visqol"] < exact["visqol"] - 0.5
    assert lossy["lsd"] > exact["lsd"]
    assert lossy["visqol_ceiling"] == pytest.approx(exact["visqol_ceiling"])
    assert set(lossy["lsd_sizes"]) == {"512"} and lossy["files"] == 1
    assert summary_entries(lossy) == {
        "val/visqol": lossy["visqol"],
        "val/visqol_ceiling": lossy["visqol_ceiling"],
        "val/lsd": lossy["lsd"],
        "val/lsd_ceiling": lossy["lsd_ceiling"],
    }
    assert summary_entries({"files": 0}) == {}


def test_multires_lsd_zero_for_identical() -> None:
    y = tone(0.5)
    assert multires_lsd(y, y, (256, 1024)) == {"256": 0.0, "1024": 0.0}
