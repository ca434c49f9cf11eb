"""Fixtures for the codec tests: the session's tiny trained checkpoint, audio writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, run_module, train_here

__all__ = ["REPO", "run_module", "train_here"]


def codes_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a codes file, to edit and save again (``np.savez``)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


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


@pytest.fixture(scope="session")
def trained(tiny_run) -> dict[str, Path]:
    """The session's tiny trained run (``tiny_run``): ``{"ckpt", "audio", "root"}``."""
    return {"ckpt": tiny_run.ckpt, "audio": tiny_run.audio, "root": tiny_run.root}


@pytest.fixture(scope="session")
def codec(trained):
    from rvqvae.codec import Codec

    return Codec.from_checkpoint(trained["ckpt"])
