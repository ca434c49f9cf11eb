"""One training job: build everything from the composed config, fit, write ``summary.json``."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rvqvae.training.checkpoint import AtomicCheckpointIO, resolve_resume

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """An override or config value that cannot work; the message names the setting."""


def _positive(cfg: dict[str, Any], dotted: str, allow_zero: bool = False) -> None:
    node: Any = cfg
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return
    ok = isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node)
    if not ok or node < 0 or (node == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{dotted} must be a number {bound}, got {node!r}")


def validate_config(cfg: dict[str, Any]) -> None:
    """Stop before any work on values that cannot train (one clear line each)."""
    for key in ("module.learning_rate", "dataset.batch_size", "dataset.chunk_duration_s"):
        _positive(cfg, key)
    for key in ("module.weight_decay", "dataset.augmentation_expansion", "trainer.max_epochs"):
        _positive(cfg, key, allow_zero=True)
    model = cfg["model"]
    for key, minimum in (("num_quantizers", 1), ("codebook_size", 2), ("codebook_dim", 1)):
        value = model.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"model.{key} must be an integer >= {minimum}, got {value!r}")
    val_fraction = cfg["dataset"].get("val_fraction")
    if not isinstance(val_fraction, int | float) or not 0 < val_fraction < 1:
        raise ConfigError(f"dataset.val_fraction must be in (0, 1), got {val_fraction!r}")
    if cfg["dataset"].get("on_bad_file") not in ("skip", "error"):
        raise ConfigError(
            f"dataset.on_bad_file must be skip or error, got {cfg['dataset'].get('on_bad_file')!r}"
        )


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
            os.environ.setdefault("WANDB_CACHE_DIR", str(wandb_dir / "cache"))
            os.environ.setdefault("WANDB_DATA_DIR", str(wandb_dir / "data"))
            logger_cfg["tags"] = list(logger_cfg.get("tags") or [])
        logger = instantiate(logger_cfg)
        if name == "wandb":
            logger.log_hyperparams(cfg)
        loggers.append(logger)
    return loggers


def _finish_wandb() -> None:
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one training job in the Hydra run folder; returns the summary dict."""
    import lightning as L

    from rvqvae.training.callbacks import EpochMetricsCSV, Previews, checkpoint_callbacks
    from rvqvae.training.module import _positions_per_second

    # Lightning has its own console handler; Hydra's root handlers already print and file it.
    logging.getLogger("lightning.pytorch").handlers.clear()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    is_multirun = hydra_cfg.mode == RunMode.MULTIRUN
    overrides = list(hydra_cfg.overrides.task)
    summary: dict[str, Any] = {"status": "running", "error": None, "overrides": overrides}
    summary_path = run_dir / "summary.json"
    _write_json(summary_path, summary)
    started = time.perf_counter()
    metrics_cb: EpochMetricsCSV | None = None
    try:
        plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        validate_config(plain)
        if plain.get("num_threads"):
            torch.set_num_threads(int(plain["num_threads"]))
        L.seed_everything(plain["seed"], workers=True, verbose=False)

        dataset_cfg = {k: v for k, v in plain["dataset"].items() if k != "file_count"}
        datamodule = instantiate(dataset_cfg)

        model_cfg = dict(plain["model"])
        positions_per_second = _positions_per_second(None, plain)
        positions_per_chunk = round(positions_per_second * plain["dataset"]["chunk_duration_s"])
        threshold = effective_dead_code_threshold(
            model_cfg["threshold_ema_dead_code"],
            plain["dataset"]["batch_size"],
            positions_per_chunk,
            model_cfg["codebook_size"],
        )
        if threshold != model_cfg["threshold_ema_dead_code"]:
            log.info(
                "dead-code threshold scaled from %s to %.3g for batch size %d",
                model_cfg["threshold_ema_dead_code"],
                threshold,
                plain["dataset"]["batch_size"],
            )
        model_cfg["threshold_ema_dead_code"] = threshold
        trainer_cfg = dict(plain["trainer"])
        is_distributed = trainer_cfg.get("strategy") in ("ddp", "ddp_spawn") or (
            int(trainer_cfg.get("num_nodes") or 1) > 1
        )
        model = instantiate(model_cfg, sync_codebook=is_distributed or None)
        # _partial_: run_config holds other _target_ nodes that must stay plain data
        module = instantiate(plain["module"], _partial_=True)(model=model, run_config=plain)

        cb = plain["callbacks"]
        metrics_cb = EpochMetricsCSV(run_dir / "metrics.csv")
        previews = Previews(
            run_dir / "previews",
            cb["preview_interval"],
            cb["preview_chunks"],
            cb["griffin_lim_iters"],
        )
        callbacks = [
            metrics_cb,
            previews,
            *checkpoint_callbacks(
                run_dir / "checkpoints", cb["checkpoint_interval"], cb["max_checkpoints"]
            ),
        ]
        trainer = instantiate(
            trainer_cfg,
            callbacks=callbacks,
            logger=build_loggers(plain, run_dir, is_multirun) or False,
            plugins=[AtomicCheckpointIO()],
        )
        ckpt_path = resolve_resume(plain.get("resume"), run_dir)
        if ckpt_path is not None:
            log.info("resuming from %s", ckpt_path)
        fit_start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        train_seconds = time.perf_counter() - fit_start
        summary.update(
            _summary_after_fit(plain, module, datamodule, metrics_cb.rows, trainer, train_seconds)
        )
        summary["status"] = "completed"
        summary["best_checkpoint"] = str(run_dir / "checkpoints" / "best.ckpt")
        summary["previews"] = str(run_dir / "previews")
        return summary
    except BaseException as exc:
        summary["status"] = "failed"
        summary["error"] = one_line_error(exc)
        if metrics_cb is not None and metrics_cb.rows:
            summary.update(_metrics_from_rows(metrics_cb.rows))
        raise
    finally:
        summary["wall_seconds"] = time.perf_counter() - started
        summary["run_dir"] = str(run_dir)
        _write_json(summary_path, summary)
        _finish_wandb()


def one_line_error(exc: BaseException) -> str:
    """``Type: first line`` of an error; instantiate() wrappers are unwrapped to their cause."""
    from hydra.errors import InstantiationException

    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _metrics_from_rows(rows: list[dict[str, float]]) -> dict[str, Any]:
    with_val = [r for r in rows if "val/recon_l1" in r]
    if not with_val:
        return {"epochs": len(rows)}
    last = with_val[-1]
    best = min(with_val, key=lambda r: r["val/recon_l1"])
    return {
        "val/recon_l1": last["val/recon_l1"],
        "val/norm_l1": last.get("val/norm_l1"),
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
    return {
        **_metrics_from_rows(rows),
        "codebook": getattr(module, "last_codebook_health", {}),
        "bitrate_bps": module.bitrate_bps(),
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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)
