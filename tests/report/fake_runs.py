"""Hand-made run folders: helpers shared by tests/report/conftest.py (prior runs follow the
run-folder contract of ``python -m rvqvae.train_prior``)."""

from __future__ import annotations

import base64
import csv
import json
import wave
from pathlib import Path
from typing import Any

import yaml

# 1x1 PNG, enough for "mels.png" previews.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def write_wav(path: Path) -> None:
    """A 10 ms silent mono WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 80)


# prior runs (``python -m rvqvae.train_prior``): the run-folder contract, hand-made


def make_prior_run(
    run_dir: Path,
    overrides: list[str],
    summary: dict[str, Any] | None = None,
    levels: int = 3,
    bits: list[list[float]] | None = None,
    samples: int = 2,
    log_lines: list[str] | None = None,
) -> Path:
    """A prior job folder: .hydra/, checkpoints/, metrics.csv (one row per epoch of per-level
    bits/s ``bits``), summary.json, previews/{epoch_0001,final}/sample_K.{wav,png}."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True)
    config: dict[str, Any] = {
        "vqvae": None,
        "seed": 0,
        "prior": {"order": "level_major", "d_model": 64, "n_layers": 2, "n_heads": 4},
        "trainer": {"max_epochs": 3},
    }
    for o in overrides:
        key, value = o.lstrip("+").split("=", 1)
        config[key] = yaml.safe_load(value)
    (hydra_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    (hydra_dir / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"job": {"name": "train_prior"}}})
    )
    if bits is not None:
        header = ["epoch", "train/loss", "val/nll", "val/bits_per_s"]
        header += [f"val/bits_per_s/level_{k}" for k in range(levels)]
        header += [f"val/ce/level_{k}" for k in range(levels)]
        header += ["raw_bits_per_s", "unigram_bits_per_s", "lr", "time_s", "train/tokens_per_s"]
        with (run_dir / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            for epoch, per_level in enumerate(bits):
                row: dict[str, Any] = {"epoch": epoch, "val/bits_per_s": sum(per_level)}
                for k, value in enumerate(per_level):
                    row[f"val/bits_per_s/level_{k}"] = value
                    row[f"val/ce/level_{k}"] = value / 1000
                row.update({"train/loss": 3.0 - epoch, "val/nll": 2.5 - epoch / 2})
                row.update({"raw_bits_per_s": 48 * levels * 7, "unigram_bits_per_s": 800.0})
                row.update({"lr": 1e-3, "time_s": 14 * (epoch + 1), "train/tokens_per_s": 5e3})
                writer.writerow(row)
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if log_lines is not None:
        (run_dir / "train_prior.log").write_text("\n".join(log_lines) + "\n")
    for sub in ("epoch_0001", "final"):
        for k in range(samples):
            write_wav(run_dir / "previews" / sub / f"sample_{k}.wav")
            (run_dir / "previews" / sub / f"sample_{k}.png").write_bytes(TINY_PNG)
    (run_dir / "checkpoints").mkdir()
    for name in ("best.ckpt", "last.ckpt"):
        (run_dir / "checkpoints" / name).write_bytes(b"")
    return run_dir


def prior_summary(
    run_dir: Path, overrides: list[str], per_level: list[float], **values: Any
) -> dict[str, Any]:
    """A completed prior run's summary.json with every key of the contract; ``values`` win."""
    levels = len(per_level)
    summary: dict[str, Any] = {
        "kind": "prior",
        "status": "completed",
        "error": None,
        "overrides": overrides,
        "val/bits_per_s": sum(per_level),
        "best/val/bits_per_s": sum(per_level) - 5.0,
        "best_epoch": 2,
        "raw_bits_per_s": 48.0 * levels * 7,
        "unigram_bits_per_s": 800.0,
        "val/ce_per_level": [b / 1000 for b in per_level],
        "val/bits_per_s_per_level": per_level,
        "fd_prior": 12.5,
        "fd_unigram": 30.25,
        "fd_reconstruction": 5.125,
        "longest_copy_s": 0.75,
        "nn_distance_generated": 1.5,
        "nn_distance_validation": 1.25,
        "train_seconds": 42.0,
        "epochs": 3,
        "seed": 0,
        "vqvae_checkpoint": "",
        "vqvae_run_dir": "",
        "vqvae_norm_l1": 0.25,
        "vqvae_bitrate_bps": 48.0 * levels * 7,
        "num_quantizers": levels,
        "codebook_size": 128,
        "codebook_dim": 128,
        "prior": {
            "order": "level_major",
            "d_model": 64,
            "n_layers": 2,
            "n_heads": 4,
            "params": 1e5,
        },
        "file_count": 32,
        "run_dir": str(run_dir),
    }
    summary["prior"]["params"] = 100_000
    summary.update(values)
    return summary
