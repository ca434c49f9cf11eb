"""Fixtures for the data tests: small audio files written with soundfile into tmp folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WriteWav = Callable[..., Path]


def tone(
    duration_s: float = 1.0,
    sample_rate: int = 48000,
    freq: float = 440.0,
    amp: float = 0.5,
    channels: int = 1,
) -> np.ndarray:
    """A harmonic tone ``[samples]`` or ``[samples, channels]`` float32 (channel c: freq*(c+1))."""
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    cols = []
    for c in range(channels):
        f = freq * (1 + c * 0.25)
        cols.append(amp * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)) / 1.3)
    x = np.stack(cols, axis=1).astype(np.float32)
    return x[:, 0] if channels == 1 else x


@pytest.fixture
def write_wav() -> WriteWav:
    """``write_wav(path, data=None, sample_rate=48000, subtype="PCM_16", **tone_kwargs)``."""

    def _write(
        path: Path,
        data: np.ndarray | None = None,
        sample_rate: int = 48000,
        subtype: str = "PCM_16",
        fmt: str | None = None,
        **tone_kwargs: float,
    ) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            data = tone(sample_rate=sample_rate, **tone_kwargs)
        sf.write(path, data, sample_rate, subtype=subtype, format=fmt)
        return path

    return _write


@pytest.fixture
def audio_folder(tmp_path: Path, write_wav: WriteWav) -> Path:
    """Six 3 s tones of different pitches (three chunks each) in ``tmp_path/audio``."""
    root = tmp_path / "audio"
    for i in range(6):
        write_wav(root / f"tone_{i}.wav", duration_s=3.0, freq=110.0 * (i + 2))
    return root


@pytest.fixture
def make_tone() -> Callable[..., np.ndarray]:
    """The :func:`tone` helper (conftest modules cannot be imported under importlib mode)."""
    return tone
