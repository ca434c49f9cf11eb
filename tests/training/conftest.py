"""Fixtures for training tests: tiny real audio folders and a subprocess runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]


def write_tones(folder: Path, count: int, seconds: float = 1.5, sr: int = 16000) -> Path:
    """``count`` short WAV files of harmonic tones at different pitches."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(count):
        f0 = 110.0 * 2 ** (i / 5)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
        env = np.minimum(1.0, t * 20) * np.exp(-t * (0.5 + i % 3))
        sf.write(folder / f"tone_{i:03d}.wav", (0.3 * tone * env).astype(np.float32), sr)
    return folder


@pytest.fixture
def tone_folder(tmp_path: Path) -> Path:
    return write_tones(tmp_path / "audio", 6)


def run_train(args: list[str], tmp_path: Path, check: bool = True, timeout: float = 240):
    """Run ``python -m rvqvae.train`` in a subprocess with W&B off and a private cache."""
    env = {
        **os.environ,
        "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled"),
        "RVQVAE_CACHE_DIR": str(tmp_path / "cache"),
        "HYDRA_FULL_ERROR": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "rvqvae.train", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
