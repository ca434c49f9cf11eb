"""Fixture run folders following the run-folder contracts of rvqvae.train (VQ-VAE runs) and
rvqvae.train_prior (prior runs), and one real offline-W&B training run."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.report.fake_runs import TINY_PNG, make_prior_run, prior_summary, write_wav


def make_run(
    run_dir: Path,
    overrides: list[str],
    val_recon: list[float] | None = None,
    summary: dict[str, Any] | None = None,
    levels: int = 2,
    log_lines: list[str] | None = None,
    previews: bool = True,
    extra_columns: dict[str, list[float]] | None = None,
) -> Path:
    """One Hydra job folder: .hydra/, metrics.csv, summary.json, previews/, checkpoints/."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True)
    config: dict[str, Any] = {"model": {"codebook_dim": 128, "num_quantizers": levels}}
    config["seed"] = 0
    for o in overrides:
        key, value = o.lstrip("+").split("=", 1)
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    # like the real .hydra/config.yaml: tier-dependent values stay unresolved
    config["model"].setdefault("codebook_size", "${rvqvae.tier:codebook_size,32,auto}")
    (hydra_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    (hydra_dir / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"name": "train"}}}))
    if val_recon is not None:
        header = ["epoch", "train/recon_l1", "train/commit_loss", "val/recon_l1", "val/norm_l1"]
        for k in range(levels):
            header += [f"val/codebook/level_{k}/{s}" for s in ("utilization", "perplexity")]
            header.append(f"val/codebook/level_{k}/dead_codes")
        header += ["bitrate_bps", "train/samples_per_s", "lr", "time_s"]
        extra_columns = extra_columns or {}
        header += list(extra_columns)
        with (run_dir / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            for epoch, v in enumerate(val_recon):
                row: dict[str, Any] = {
                    "epoch": epoch,
                    "val/recon_l1": v,
                    "time_s": 10 * (epoch + 1),
                }
                row["train/recon_l1"] = v + 0.05
                row["val/norm_l1"] = v / 2
                row["bitrate_bps"] = 48 * levels * 7
                for k in range(levels):
                    row[f"val/codebook/level_{k}/utilization"] = 0.5
                for key, values in extra_columns.items():
                    row[key] = values[epoch]
                writer.writerow(row)
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if log_lines is not None:
        (run_dir / "train.log").write_text("\n".join(log_lines) + "\n")
    if previews:
        for sub in ("epoch_0000", "final"):
            for k in range(4):
                write_wav(run_dir / "previews" / sub / f"{k}_original.wav")
                write_wav(run_dir / "previews" / sub / f"{k}_recon.wav")
            (run_dir / "previews" / sub / "mels.png").write_bytes(TINY_PNG)
        (run_dir / "checkpoints").mkdir()
        (run_dir / "checkpoints" / "best.ckpt").write_bytes(b"")
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    return run_dir


def full_summary(run_dir: Path, overrides: list[str], **values: Any) -> dict[str, Any]:
    """A completed run's summary.json; ``values`` override the defaults."""
    summary: dict[str, Any] = {
        "status": "completed",
        "error": None,
        "val/recon_l1": 0.3,
        "val/norm_l1": 0.15,
        "best/val/recon_l1": 0.29,
        "best/val/norm_l1": 0.145,
        "best_epoch": 1,
        "codebook": {
            f"level_{k}": {
                "utilization": 0.82 - 0.07 * k,
                "perplexity": 51.3 - 11.3 * k,
                "dead_codes": 12 + 8 * k,
            }
            for k in range(values.get("num_quantizers", 2))
        },
        "bitrate_bps": 1008.0,
        "num_quantizers": 2,
        "codebook_size": 128,
        "codebook_dim": 128,
        "file_count": 32,
        "epochs": 3,
        "train_seconds": 65.0,
        "train_samples_per_s": 123.4,
        "overrides": overrides,
        "seed": 0,
        "run_dir": str(run_dir),
    }
    summary.update(values)
    return summary


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun: codebook_dim 64/128/256 completed, job 3 (512) crashed with only a log."""
    root = tmp_path / "multirun" / "2024-05-01" / "12-00-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    for i, (dim, final, best, norm, secs) in enumerate(
        [
            (64, 0.31234, 0.30001, 0.15551, 65.0),
            (128, 0.25, 0.24, 0.125, 42.04),
            (256, 0.2, 0.19, 0.1, 3725.0),
        ]
    ):
        overrides = [f"model.codebook_dim={dim}", "data=synth"]
        run_dir = root / str(i)
        summary = full_summary(
            run_dir,
            overrides,
            **{
                "val/recon_l1": final,
                "best/val/recon_l1": best,
                "val/norm_l1": norm,
                "train_seconds": secs,
                "codebook_dim": dim,
            },
        )
        make_run(run_dir, overrides, val_recon=[0.5, best, final], summary=summary)
    make_run(
        root / "3",
        ["model.codebook_dim=512", "data=synth"],
        log_lines=[
            "[2024-05-01 12:00:01][__main__][INFO] - start",
            "Traceback (most recent call last):",
            "ValueError: first problem",
            "[2024-05-01 12:00:02,000][rvqvae.train][ERROR] - "
            "RuntimeError: CUDA out of memory | tried to allocate 2 GiB",
            "[2024-05-01 12:00:02,001][rvqvae.train][INFO] - cleanup done",
        ],
        previews=False,
    )
    return root


@pytest.fixture
def seed_sweep(tmp_path: Path) -> Path:
    """levels 2/3 x seeds 0/1/2, final val/recon_l1 chosen for an exact mean ± std."""
    root = tmp_path / "seeds"
    root.mkdir()
    finals = {2: [0.1, 0.2, 0.3], 3: [0.05, 0.07, 0.09]}
    job = 0
    for levels in (2, 3):
        for seed in range(3):
            overrides = [f"model.num_quantizers={levels}", f"seed={seed}"]
            run_dir = root / str(job)
            final = finals[levels][seed]
            summary = full_summary(
                run_dir,
                overrides,
                **{
                    "val/recon_l1": final,
                    "bitrate_bps": 48.0 * levels * 7,
                    "num_quantizers": levels,
                    "seed": seed,
                },
            )
            make_run(run_dir, overrides, val_recon=[0.4, final], summary=summary, levels=levels)
            job += 1
    return root


MakeRun = Callable[..., Path]


@pytest.fixture
def make_run_dir() -> MakeRun:
    """The ``make_run`` helper as a fixture (tests import nothing from conftest)."""
    return make_run


# ---------------------------------------------------------------------------------------------
# prior runs (``python -m rvqvae.train_prior``), hand-made (tests/report/fake_runs.py)

VQVAE_A = "/data/outputs/multirun/2024-05-01/09-00-00/0"  # 3 levels x 128 codes
VQVAE_B = "/data/outputs/multirun/2024-05-01/09-00-00/1"  # 2 levels x 64 codes


@pytest.fixture
def prior_sweep(tmp_path: Path) -> Path:
    """Priors of two VQ-VAEs (A: 3x128, B: 2x64) x seeds 0/1, and job 4 (A, seed 2) crashed
    before writing summary.json. Per-level val bits/s chosen for exact mean ± std."""
    root = tmp_path / "multirun" / "2024-05-02" / "10-00-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    jobs = [
        (VQVAE_A, 0, [300.0, 200.0, 100.0], {"codebook_size": 128, "vqvae_norm_l1": 0.25}),
        (VQVAE_A, 1, [320.0, 210.0, 110.0], {"codebook_size": 128, "vqvae_norm_l1": 0.25}),
        (VQVAE_B, 0, [250.0, 150.0], {"codebook_size": 64, "vqvae_norm_l1": 0.35}),
        (VQVAE_B, 1, [260.0, 160.0], {"codebook_size": 64, "vqvae_norm_l1": 0.35}),
    ]
    for i, (vqvae, seed, per_level, extra) in enumerate(jobs):
        overrides = [f"vqvae={vqvae}", f"seed={seed}"]
        run_dir = root / str(i)
        ckpt = f"{vqvae}/checkpoints/best.ckpt"
        summary = prior_summary(
            run_dir,
            overrides,
            per_level,
            seed=seed,
            unigram_bits_per_s=800.0 if vqvae == VQVAE_A else 500.0,
            vqvae_checkpoint=ckpt,
            vqvae_run_dir=vqvae,
            **extra,
        )
        history = [[b + 40 * (2 - e) for b in per_level] for e in range(3)]
        make_prior_run(run_dir, overrides, summary, levels=len(per_level), bits=history)
    make_prior_run(
        root / "4",
        [f"vqvae={VQVAE_A}", "seed=2"],
        log_lines=["[2024-05-02 10:00:09,000][rvqvae.train_prior][ERROR] - ValueError: boom"],
        samples=0,
    )
    return root


@pytest.fixture
def make_prior_dir() -> Callable[..., Path]:
    """The ``make_prior_run`` helper as a fixture."""
    return make_prior_run


@pytest.fixture
def prior_summary_of() -> Callable[..., dict[str, Any]]:
    """The ``prior_summary`` helper as a fixture."""
    return prior_summary


# ---------------------------------------------------------------------------------------------
# a real training run with W&B offline (once per session, only for the tests that ask for it)


@pytest.fixture(scope="session")
def wandb_vqvae_run(fast_wandb_run: dict) -> Path:
    """A real ``debug=fast dataset=folder logger=wandb`` run on 6 tones, W&B offline (the
    session's shared one, tests/conftest.py): summary, metrics.csv, previews,
    wandb/offline-run-*."""
    return fast_wandb_run["run"]
