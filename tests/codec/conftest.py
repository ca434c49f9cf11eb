"""Fixtures for the codec tests: one tiny trained checkpoint per session, audio writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]

# A toy model trained for a few seconds (no dropout, higher lr so its codebooks are in use).
TRAIN_ARGS = [
    "debug=fast",
    "dataset=folder",
    "trainer.max_epochs=4",
    "trainer.limit_train_batches=4",
    "dataset.augmentation_expansion=4",
    "model.dropout=0.0",
    "module.learning_rate=3e-3",
    "callbacks.preview_interval=1000",
    "callbacks.checkpoint_interval=1000",
]


def write_tones(folder: Path, count: int, seconds: float = 1.5, sr: int = 16000) -> Path:
    """``count`` short WAV files of harmonic tones at different pitches (as tests/training)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(count):
        f0 = 110.0 * 2 ** (i / 5)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
        env = np.minimum(1.0, t * 20) * np.exp(-t * (0.5 + i % 3))
        sf.write(folder / f"tone_{i:03d}.wav", (0.3 * tone * env).astype(np.float32), sr)
    return folder


def music(seconds: float, sr: int = 48000, seed: int = 0) -> np.ndarray:
    """A changing note sequence with harmonics and a little noise ``[samples]`` float32."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    note = np.floor(t * 4).astype(int)  # 4 notes per second
    f0 = 110.0 * 2 ** (rng.integers(0, 24, size=note.max() + 1)[note] / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(h * phase) / h for h in range(1, 6)) * (0.6 + 0.4 * np.cos(2 * np.pi * t * 4))
    return (0.25 * y + 0.01 * rng.standard_normal(n)).astype(np.float32)


def run_module(module: str, args: list[str], cwd: Path, timeout: float = 240):
    """``python -m <module> args`` with W&B off and a private cache; returns the process."""
    env = {
        **os.environ,
        "WANDB_MODE": "disabled",
        "RVQVAE_CACHE_DIR": str(cwd / "cache"),
        "HYDRA_FULL_ERROR": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny trained run: ``{"ckpt", "audio", "root"}``."""
    root = tmp_path_factory.mktemp("codec_train")
    audio = write_tones(root / "audio", 6)
    run_dir = root / "run"
    proc = run_module(
        "rvqvae.train", [*TRAIN_ARGS, f"dataset.path={audio}", f"hydra.run.dir={run_dir}"], root
    )
    if proc.returncode != 0:
        raise AssertionError(f"train failed:\n{proc.stdout}\n{proc.stderr}")
    return {"ckpt": run_dir / "checkpoints" / "best.ckpt", "audio": audio, "root": root}


@pytest.fixture(scope="session")
def codec(trained):
    from rvqvae.codec import Codec

    return Codec.from_checkpoint(trained["ckpt"])
