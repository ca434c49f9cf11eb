"""Helpers for sweep tests: tiny audio folders, a subprocess runner, W&B offline run records."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"


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


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tones(tmp_path_factory.mktemp("audio"), 6)


def fast_args(folder: Path, *extra: str) -> list[str]:
    """Overrides of a tiny job: debug=fast on a folder of tones."""
    return ["debug=fast", "dataset=folder", f"dataset.path={folder}", *extra]


def run_train(
    args: list[str],
    tmp_path: Path,
    check: bool = True,
    timeout: float = 300,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rvqvae.train`` in a subprocess with W&B off and a private cache;
    ``env`` entries are added (a None value removes the variable)."""
    full_env = {
        **os.environ,
        "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled"),
        "RVQVAE_CACHE_DIR": str(tmp_path / "cache"),
        "HYDRA_FULL_ERROR": "0",
    }
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    proc = subprocess.run(
        [sys.executable, "-m", "rvqvae.train", *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The numbered job folders of a multirun, in order."""
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def wandb_records(path: Path) -> Iterator[Any]:
    """Records of an offline ``run-<id>.wandb`` file (LevelDB log format of protobuf Records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST fragment
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            yield record
