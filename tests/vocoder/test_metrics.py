"""compare_synthesis on a real tone: a perfect synthesiser, Griffin-Lim, extra metrics, gaps."""

from __future__ import annotations

import numpy as np

from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.vocoder.metrics import Clip, compare_synthesis, flat_synthesis
from rvqvae.vocoder.synthesize import Synthesizer


def test_a_perfect_synthesiser_beats_griffin_lim_and_extras_are_averaged() -> None:
    s = MelSettings()
    t = np.arange(int(0.5 * s.sample_rate)) / s.sample_rate
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) * np.linspace(0, 1, t.size)).astype(np.float32)
    mel = audio_to_mel(audio, s)
    clips = [Clip(audio, mel, mel + 0.3)]  # a "reconstruction" with a raised floor
    synths = {
        "griffinlim": Synthesizer(s, None, 4),
        "vocoder": lambda m, n: audio[:n],  # returns the original itself
    }
    extra = {"peak": lambda ref, out: float(np.abs(out).max()), "none": lambda ref, out: None}
    result = compare_synthesis(clips, synths, s, sizes=(256, 4096), extra=extra)
    for source in ("from_mel", "from_recon"):
        rows = result[source]
        assert all(v < 1e-6 for v in rows["vocoder"]["lsd"].values())
        assert all(rows["griffinlim"]["lsd"][n] > 0.1 for n in ("256", "4096"))
        assert rows["vocoder"]["peak"] == float(np.abs(audio).max())
        assert rows["vocoder"]["none"] is None  # metrics that find nothing are skipped
        gl, ideal = rows["griffinlim"]["lsd"], rows["ideal_phase"]["lsd"]
        for n, gap in result["gap_closed"][source]["vocoder"].items():
            # a gap exists only where the ideal phase beats Griffin-Lim; the perfect copy
            # then closes more than all of it
            assert (gap is None) == (gl[n] <= ideal[n])
            assert gap is None or gap > 1.0
    flat = flat_synthesis(result)
    assert flat["synthesis/mel/vocoder/lsd_256"] == result["from_mel"]["vocoder"]["lsd"]["256"]
    assert "synthesis/recon/griffinlim/mel_consistency" in flat
