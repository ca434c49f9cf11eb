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


def finish_wandb() -> None:
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        # Shut W&B's service down too: the next job of a multirun sets it up again with its
        # own folders, and loky workers (joblib) cannot rely on W&B's atexit hook.
        wandb.teardown()
