"""Fixtures of the export tests: the session's tiny VQ-VAE with its tiny vocoder installed and
the tiny prior trained on it, exported once per test run (shared by the xdist workers), and WAV
files of 1 s, 7.3 s and 60 s at the model's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import built_once
from tests.prior.conftest import prior_run, vqvae_run  # noqa: F401  (the shared tiny prior)

LENGTHS_S = (1.0, 7.3, 60.0)


def write_music(path: Path, seconds: float, sr: int = 48000) -> Path:
    """A WAV of gliding harmonic notes with noise bursts (every column of the grid differs)."""
    t = np.arange(int(round(seconds * sr))) / sr
    f0 = 110.0 * 2 ** ((np.floor(t * 3) % 12) / 12 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    audio = sum(np.sin(h * phase) / h for h in range(1, 7)) * (0.6 + 0.4 * np.sin(3 * t))
    burst = (np.sin(2 * np.pi * 1.3 * t) > 0.8) * np.random.default_rng(1).standard_normal(len(t))
    sf.write(path, (0.2 * audio + 0.1 * burst).astype(np.float32), sr)
    return path


@pytest.fixture(scope="session")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """``{seconds: path}`` for 1 s, 7.3 s and 60 s."""

    def build(folder: Path) -> dict:
        return {str(s): str(write_music(folder / f"music_{s:g}s.wav", s)) for s in LENGTHS_S}

    _, record = built_once(tmp_path_factory, "export_wavs", build)
    return {float(s): Path(p) for s, p in record.items()}


def _export(tmp_path_factory, name: str, cfg: dict) -> Path:
    def build(folder: Path) -> dict:
        from rvqvae.export.run import export_run

        return export_run(cfg, folder)

    folder, _ = built_once(tmp_path_factory, name, build)
    return folder


@pytest.fixture(scope="session")
def onnx_export(tiny_vocoder, prior_run, tmp_path_factory) -> Path:  # noqa: F811
    """Every part of the tiny run as ONNX (``python -m rvqvae.export``'s job, in-process)."""
    cfg = {
        "ckpt": str(tiny_vocoder.vqvae / "checkpoints" / "best.ckpt"),
        "prior_ckpt": str(prior_run / "checkpoints" / "best.ckpt"),
        "format": "onnx",
    }
    return _export(tmp_path_factory, "export_onnx", cfg)


@pytest.fixture(scope="session")
def script_export(tiny_vocoder, prior_run, tmp_path_factory) -> Path:  # noqa: F811
    """Every part of the tiny run as TorchScript."""
    cfg = {
        "ckpt": str(tiny_vocoder.vqvae / "checkpoints" / "best.ckpt"),
        "prior_ckpt": str(prior_run / "checkpoints" / "best.ckpt"),
        "format": "torchscript",
        "check": False,  # the probe check is the ONNX fixture's; the tests compare on files
    }
    return _export(tmp_path_factory, "export_torchscript", cfg)
