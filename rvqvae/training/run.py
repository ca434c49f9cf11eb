"""One training job: build everything from the composed config, fit, write ``summary.json``."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rvqvae.atomic import remove_stale_temp_files
from rvqvae.console import detach_lightning_console
from rvqvae.training.adversarial import adversarial_settings
from rvqvae.training.distributed import (
    RANK_STATE_ENV,
    ddp_multirun_job,
    distributed_world_size,
    job_num_threads,
    rank_state_callback,
    set_threads,
    uses_gpu,
)
from rvqvae.training.gpu_share import shared_gpu_devices
from rvqvae.training.job import JobContext, training_job
from rvqvae.training.loggers import build_loggers
from rvqvae.training.perceptual_eval import end_of_run_scores
from rvqvae.training.resume import first_overrides, restore_for_resume
from rvqvae.training.validation import ConfigError, validate_config

log = logging.getLogger(__name__)


def rd_cost(norm_l1: float | None, bitrate_bps: float, rd_lambda: float) -> float | None:
    """Rate-distortion cost ``norm_l1 + rd_lambda * kbit/s`` (None without a norm_l1)."""
    if norm_l1 is None:
        return None
    return float(norm_l1) + float(rd_lambda) * bitrate_bps / 1000.0


def effective_dead_code_threshold(
    threshold: float, batch_size: int, positions_per_chunk: int, codebook_size: int
) -> float:
    """Dead-code threshold scaled to the batch.

    ``threshold_ema_dead_code`` compares each code's EMA hit count *per batch*. With uniform use a
    code gets ``batch_size * positions / codebook_size`` hits per batch; with tiny batches that is
    below the threshold and every code would be replaced every step. Cap the threshold at a
    quarter of the uniform expectation.
    """
    expected_hits = batch_size * positions_per_chunk / codebook_size
    return float(min(threshold, 0.25 * expected_hits))


def optimizer_partials(plain: dict[str, Any]) -> dict[str, Any]:
    """The module's ``optimizer`` and ``scheduler`` partials from the config's nodes (a
    scheduler node without ``_target_``, e.g. a preset's warm-up under ``scheduler=none``, is
    no scheduler)."""
    scheduler = plain.get("scheduler")
    if isinstance(scheduler, dict) and "_target_" not in scheduler:
        log.info("scheduler=none: %s unused", ", ".join(f"scheduler.{k}" for k in scheduler))
        scheduler = None
    return {
        "optimizer": instantiate(plain["optimizer"]),
        "scheduler": instantiate(scheduler) if scheduler else None,
    }


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one training job in the Hydra run folder; returns the summary dict.

    With ``resume=`` the run's saved config is restored first (a conflicting override stops
    here, before the run folder's summary.json is touched)."""
    cfg, ckpt_path = restore_for_resume(cfg)
    with training_job() as job:
        return _train(cfg, job, ckpt_path)


def _train(cfg: DictConfig, job: JobContext, ckpt_path: Path | None = None) -> dict[str, Any]:
    hydra_cfg, run_dir, summary = job.hydra_cfg, job.run_dir, job.summary
    if job.is_zero:  # temporary files of writes a kill interrupted
        for folder in (run_dir, run_dir / "checkpoints"):
            for path in remove_stale_temp_files(folder):
                log.info("removed %s (left by an interrupted write)", path)
    if ckpt_path is not None and ckpt_path.parent.parent.resolve() == run_dir.resolve():
        summary.update(first_overrides(run_dir, summary["overrides"]))
    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    validate_config(plain)  # before Lightning is imported: a bad value is said in a second

    import lightning as L
    from lightning.pytorch.callbacks import ProgressBar

    from rvqvae.models.vqvae import code_positions
    from rvqvae.training.callbacks import EpochMetricsCSV, instantiate_callbacks
    from rvqvae.training.checkpoint_io import AtomicCheckpointIO
    from rvqvae.training.module import chunk_geometry

    detach_lightning_console()  # Hydra's handlers already print and file Lightning's lines
    num_threads = job_num_threads(plain.get("num_threads"), hydra_cfg.get("launcher"))
    if num_threads:
        set_threads(num_threads)
    log.info("torch threads: %d", torch.get_num_threads(), extra={"console": False})
    L.seed_everything(plain["seed"], workers=True, verbose=False)

    dataset_cfg = {k: v for k, v in plain["dataset"].items() if k != "file_count"}
    datamodule = instantiate(dataset_cfg)

    model_cfg = dict(plain["model"])
    positions_per_chunk = code_positions(*chunk_geometry(plain)[:2])
    trainer_cfg = dict(plain["trainer"])
    is_distributed = is_distributed_config(trainer_cfg)
    # with synced codebooks the per-code hit counts add up over every rank's batch
    ranks = distributed_world_size(trainer_cfg) if is_distributed else 1
    threshold = effective_dead_code_threshold(
        model_cfg["threshold_ema_dead_code"],
        plain["dataset"]["batch_size"] * ranks,
        positions_per_chunk,
        model_cfg["codebook_size"],
    )
    if threshold != model_cfg["threshold_ema_dead_code"]:
        log.info(
            "dead-code threshold scaled from %s to %.3g for batch size %d x %d rank(s)",
            model_cfg["threshold_ema_dead_code"],
            threshold,
            plain["dataset"]["batch_size"],
            ranks,
            extra={"console": False},  # a detail for train.log
        )
    model_cfg["threshold_ema_dead_code"] = threshold
    check_launcher(hydra_cfg, is_distributed)
    if plain.get("gpu_share") is not None:  # hydra/launcher=gpu_shared: GPU job.num % gpus
        devices = shared_gpu_devices(trainer_cfg, plain["gpu_share"], hydra_cfg.job.num)
        if devices is not None:
            log.info("gpu_shared: job %d on GPU %s", hydra_cfg.job.num, devices[0])
            trainer_cfg["devices"] = devices
    if trainer_cfg.get("sync_batchnorm") and not uses_gpu(trainer_cfg):
        log.info("trainer.sync_batchnorm off: torch's SyncBatchNorm needs GPUs")
        trainer_cfg["sync_batchnorm"] = False
    # EMA, k-means init and dead-code replacement all-reduce across ranks (the process group
    # does not exist yet, so vector-quantize-pytorch's own detection would say no)
    model = instantiate(model_cfg, sync_codebook=is_distributed or None)
    module_extra: dict[str, Any] = {}
    if adversarial_settings(plain["module"].get("adversarial")) is not None:
        if is_distributed:
            raise ConfigError(
                "module.adversarial.enabled=true does not run under DDP yet: train on one device"
            )
        # manual optimisation: Lightning refuses trainer.gradient_clip_val, the module clips
        module_extra["gradient_clip"] = trainer_cfg.pop("gradient_clip_val", None)
    # _partial_: run_config holds other _target_ nodes that must stay plain data
    module = instantiate(plain["module"], _partial_=True)(
        model=model, run_config=plain, **optimizer_partials(plain), **module_extra
    )
    callbacks = instantiate_callbacks(plain["callbacks"])
    if trainer_cfg.get("enable_progress_bar") is False:  # Lightning refuses a bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    metrics_cb = next((c for c in callbacks if isinstance(c, EpochMetricsCSV)), None)
    if metrics_cb is None:
        raise ConfigError("callbacks.metrics_csv is off: the run's summary is read from its rows")
    job.on_failure = lambda: _metrics_from_rows(metrics_cb.rows) if metrics_cb.rows else {}
    if os.environ.get(RANK_STATE_ENV):
        callbacks.append(rank_state_callback(run_dir / "rank_state"))
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=build_loggers(plain, run_dir, job.is_multirun) or False,
        plugins=[AtomicCheckpointIO()],
    )
    if ckpt_path is not None:
        log.info("resuming from %s", ckpt_path)
    fit_start = time.perf_counter()
    with ddp_multirun_job(hydra_cfg, is_distributed):
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    # cumulative over every resumed part of the run
    train_seconds = metrics_cb.seconds_before + time.perf_counter() - fit_start
    job.is_zero = trainer.is_global_zero
    check_finite(metrics_cb.rows)
    summary.update(
        _summary_after_fit(plain, module, datamodule, metrics_cb.rows, trainer, train_seconds)
    )
    if job.is_zero:
        summary.update(end_of_run_scores(plain, module.model, datamodule, run_dir))
    summary["best_checkpoint"] = str(run_dir / "checkpoints" / "best.ckpt")
    summary["previews"] = str(run_dir / "previews")
    return summary


class NonFiniteMetricsError(RuntimeError):
    """Validation figures that are NaN or infinite: the run diverged or its data is broken."""


def check_finite(rows: list[dict[str, float]]) -> None:
    """Fail a run whose validation ``recon_l1``/``norm_l1`` was not finite in some epoch."""
    for row in rows:
        bad = [
            f"{key} {row[key]}"
            for key in ("val/recon_l1", "val/norm_l1")
            if key in row and not math.isfinite(row[key])
        ]
        if bad:
            raise NonFiniteMetricsError(
                f"validation metrics are not finite at epoch {int(row['epoch'])} "
                f"({', '.join(bad)}): the run diverged (lower the learning rate) or its data "
                "holds NaN/inf"
            )


def is_distributed_config(trainer_cfg: dict[str, Any]) -> bool:
    """True when the trainer config asks for DDP (a ddp strategy or several nodes)."""
    return trainer_cfg.get("strategy") in ("ddp", "ddp_spawn") or (
        int(trainer_cfg.get("num_nodes") or 1) > 1
    )


def check_launcher(hydra_cfg: Any, is_distributed: bool) -> None:
    """DDP cannot start its ranks inside a joblib worker: say so before any work."""
    launcher = str((hydra_cfg.get("launcher") or {}).get("_target_", ""))
    if is_distributed and "Joblib" in launcher:
        raise ConfigError(
            "trainer.strategy=ddp cannot start its ranks inside a joblib worker: use the "
            "basic launcher (or hydra/launcher=slurm) for DDP sweeps"
        )


def _metrics_from_rows(rows: list[dict[str, float]]) -> dict[str, Any]:
    with_val = [r for r in rows if "val/recon_l1" in r]
    if not with_val:
        return {"epochs": len(rows)}
    last = with_val[-1]
    best = min(with_val, key=lambda r: r["val/recon_l1"])
    levels = {  # measured every module.level_metrics_interval epochs: the latest measurement
        k: v
        for row in with_val
        for k, v in row.items()
        if k.startswith("val/norm_l1_levels_") and math.isfinite(v)
    }
    return {
        "val/recon_l1": last["val/recon_l1"],
        "val/norm_l1": last.get("val/norm_l1"),
        **levels,
        "best/val/recon_l1": best["val/recon_l1"],
        "best/val/norm_l1": best.get("val/norm_l1"),
        "best_epoch": int(best["epoch"]),
        "epochs": int(rows[-1]["epoch"]) + 1,
    }


def _summary_after_fit(
    plain: dict[str, Any],
    module: Any,
    datamodule: Any,
    rows: list[dict[str, float]],
    trainer: Any,
    train_seconds: float,
) -> dict[str, Any]:
    rates = [r["train/samples_per_s"] for r in rows if "train/samples_per_s" in r]
    metrics = _metrics_from_rows(rows)
    bitrate = module.bitrate_bps()
    rd_lambda = float(plain.get("rd_lambda") or 0.0)
    return {
        **metrics,
        "rd_cost": rd_cost(metrics.get("val/norm_l1"), bitrate, rd_lambda),
        "rd_lambda": rd_lambda,
        "optimized_metric": plain.get("optimized_metric"),
        "codebook": getattr(module, "last_codebook_health", {}),
        "bitrate_bps": bitrate,
        "quantize_dropout": module.model.quantize_dropout,
        "num_quantizers": module.model.num_quantizers,
        "codebook_size": module.model.codebook_size,
        "codebook_dim": module.model.codebook_dim,
        "file_count": int(getattr(datamodule, "file_count", plain["dataset"]["file_count"])),
        "tier": plain["codebook"]["tier"],
        "train_seconds": train_seconds,
        "train_samples_per_s": sum(rates) / len(rates) if rates else None,
        "seed": plain["seed"],
        "init_source": module.init_source,
        "global_step": trainer.global_step,
    }
