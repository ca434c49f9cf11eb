"""Helpers shared by the test packages: tiny audio folders and subprocess runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


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


def run_module(
    module: str,
    args: list[str],
    cwd: Path,
    timeout: float = 300,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> args`` in ``cwd`` with W&B off (unless the environment says
    otherwise) and a private cache; ``env`` entries are added (None removes a variable)."""
    full_env = {
        **os.environ,
        "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled"),
        "RVQVAE_CACHE_DIR": str(cwd / "cache"),
        "HYDRA_FULL_ERROR": "0",
    }
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_train(
    args: list[str],
    tmp_path: Path,
    check: bool = True,
    timeout: float = 300,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m rvqvae.train args``; raises with its output when ``check`` and it fails."""
    proc = run_module("rvqvae.train", args, tmp_path, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The run folder's summary.json."""
    return json.loads((run_dir / "summary.json").read_text())
