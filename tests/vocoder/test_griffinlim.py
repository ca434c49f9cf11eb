"""Griffin-Lim: one function, single-threaded inside, thread count restored; streaming blocks."""

from __future__ import annotations

import numpy as np
import torch

from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.vocoder import griffinlim


def test_one_griffin_lim_runs_single_threaded_and_restores_threads(monkeypatch) -> None:
    s = MelSettings(sample_rate=8000, n_fft=256, hop_length=64, n_mels=32)
    t = np.arange(8000) / 8000
    mel = torch.from_numpy(audio_to_mel((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), s))
    seen: list[int] = []
    real_stft = torch.stft

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_stft(*args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(torch, "stft", spy)
    try:
        y, angles = griffinlim.griffin_lim(mel, s, n_iter=2)
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}
    assert y.shape == (mel.shape[1] * 64,) and angles.shape == (129, mel.shape[1] + 1)
    # streaming: a mel that fits one block is exactly the whole-mel inversion
    gl = griffinlim.StreamingGriffinLim(s, mel.shape[1], 8000, n_iter=2, block_frames=1024)
    streamed = np.concatenate(gl.push(mel.numpy()) + gl.finish())
    np.testing.assert_array_equal(streamed, griffinlim.mel_to_audio(mel, s, n_iter=2, length=8000))
