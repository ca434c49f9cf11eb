"""Lightning loggers from the config, and W&B run hygiene (mode, folders, finish)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate


def _wandb_mode(requested: str | None) -> str:
    if requested:
        return requested
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    try:
        import wandb

        has_key = bool(os.environ.get("WANDB_API_KEY")) or bool(wandb.api.api_key)
    except Exception:
        has_key = False
    return "online" if has_key else "offline"


_OWN_WANDB_ENV: set[str] = set()  # W&B env vars set by build_loggers, not by the user


def build_loggers(cfg: dict[str, Any], run_dir: Path, is_multirun: bool) -> list[Any]:
    """Instantiate the configured Lightning loggers (W&B: mode, group, name, resolved config)."""
    loggers = []
    for name, logger_cfg in (cfg.get("logger") or {}).items():
        logger_cfg = dict(logger_cfg)
        if name == "wandb":
            logger_cfg["mode"] = _wandb_mode(logger_cfg.get("mode"))
            hydra_cfg = HydraConfig.get()
            if is_multirun:
                sweep = Path(hydra_cfg.sweep.dir)
                logger_cfg["group"] = f"{sweep.parent.name}_{sweep.name}"
                logger_cfg["name"] = logger_cfg.get("name") or (
                    hydra_cfg.job.override_dirname or f"job{hydra_cfg.job.num}"
                )
            else:
                logger_cfg["group"] = logger_cfg.get("group") or "single"
                logger_cfg["name"] = logger_cfg.get("name") or (
                    hydra_cfg.job.override_dirname or run_dir.name
                )
            wandb_dir = run_dir / "wandb-cache"
            for var, sub in (("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data")):
                # the user's setting wins; ours moves to each job's folder (multirun jobs
                # share the process)
                if var not in os.environ or var in _OWN_WANDB_ENV:
                    os.environ[var] = str(wandb_dir / sub)
                    _OWN_WANDB_ENV.add(var)
            logger_cfg["tags"] = list(logger_cfg.get("tags") or [])
        logger = instantiate(logger_cfg)
        if name == "wandb":
            logger.log_hyperparams(cfg)
        loggers.append(logger)
    return loggers


MAX_HISTOGRAM_BINS = 512  # wandb.Histogram's limit


def codebook_usage_histograms(counts: Any) -> dict[str, Any]:
    """``wandb.Histogram`` of code usage per level from counts ``[levels, codebook_size]``.

    One bin per code up to 512 codes; larger codebooks are summed into 512 equal bins.
    """
    import numpy as np
    import wandb

    counts = np.asarray(counts, dtype=np.float64)
    histograms = {}
    for level, level_counts in enumerate(counts):
        size = level_counts.shape[0]
        bins = min(size, MAX_HISTOGRAM_BINS)
        edges = np.linspace(0, size, bins + 1)
        binned = np.add.reduceat(level_counts, np.floor(edges[:-1]).astype(int))
        histograms[f"val/codebook/level_{level}/usage"] = wandb.Histogram(
            np_histogram=(binned, edges)
        )
    return histograms


def log_to_wandb(trainer: Any, data: dict[str, Any]) -> None:
    """Log ``data`` to every W&B logger of ``trainer`` (rank 0), at the trainer's step."""
    from lightning.pytorch.loggers import WandbLogger

    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.log({**data, "trainer/global_step": trainer.global_step})


def update_wandb_summary(summary: dict[str, Any]) -> None:
    """Put the run's best values, status and sizes in the W&B run summary (last values are
    W&B's default)."""
    import sys

    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is None:
        return
    keys = (
        "status",
        "error",
        "best/val/recon_l1",
        "best/val/norm_l1",
        "best_epoch",
        "bitrate_bps",
        "file_count",
        "epochs",
        "train_seconds",
        "train_samples_per_s",
        # the end-of-training perceptual evaluation (rvqvae/training/perceptual_eval.py)
        "val/visqol",
        "val/visqol_ceiling",
        "val/lsd",
        "val/lsd_ceiling",
        # prior runs (python -m rvqvae.train_prior)
        "kind",
        "best/val/bits_per_s",
        "raw_bits_per_s",
        "unigram_bits_per_s",
        "fd_prior",
        "fd_unigram",
        "fd_reconstruction",
        "longest_copy_s",
        "nn_distance_generated",
        "nn_distance_validation",
        "vqvae_norm_l1",
    )
    wandb.run.summary.update({k: summary[k] for k in keys if summary.get(k) is not None})


def finish_wandb() -> None:
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        # Shut W&B's service down too: the next job of a multirun sets it up again with its
        # own folders, and loky workers (joblib) cannot rely on W&B's atexit hook.
        wandb.teardown()
