"""What a training config must satisfy before any work starts: one clear line per bad value
(:class:`ConfigError`), the sweep objective's keys (``optimized_metric``) included."""

from __future__ import annotations

import math
import re
from typing import Any

from rvqvae.training.perceptual_eval import perceptual_node
from rvqvae.training.schedule import check_budget


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
    if not isinstance(cfg.get("optimizer"), dict) or "_target_" not in cfg["optimizer"]:
        raise ConfigError(
            f"optimizer must be an optimizer node with _target_ (conf/optimizer/), got "
            f"{cfg.get('optimizer')!r}"
        )
    for key in ("optimizer.lr", "dataset.batch_size", "dataset.chunk_duration_s"):
        _positive(cfg, key)
    for key in ("optimizer.weight_decay", "scheduler.warmup_steps", "trainer.max_epochs"):
        _positive(cfg, key, allow_zero=True)
    _positive(cfg, "dataset.augmentation_expansion", allow_zero=True)
    scheduler = cfg.get("scheduler")
    budget = scheduler.get("budget", "steps") if isinstance(scheduler, dict) else "steps"
    try:
        check_budget(budget, has_time_budget=bool((cfg.get("trainer") or {}).get("max_time")))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    model = cfg["model"]
    for key, minimum in (("num_quantizers", 1), ("codebook_size", 2), ("codebook_dim", 1)):
        value = model.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"model.{key} must be an integer >= {minimum}, got {value!r}")
    _positive(cfg, "rd_lambda", allow_zero=True)
    _positive(cfg, "evaluation.perceptual.max_files", allow_zero=True)
    _positive(cfg, "evaluation.perceptual.max_seconds")
    perceptual = perceptual_node(cfg) is not None
    check_objective(cfg.get("optimized_metric"), model["num_quantizers"], perceptual)
    val_fraction = cfg["dataset"].get("val_fraction")
    if not isinstance(val_fraction, int | float) or not 0 < val_fraction < 1:
        raise ConfigError(f"dataset.val_fraction must be in (0, 1), got {val_fraction!r}")
    if cfg["dataset"].get("on_bad_file") not in ("skip", "error"):
        raise ConfigError(
            f"dataset.on_bad_file must be skip or error, got {cfg['dataset'].get('on_bad_file')!r}"
        )


# Summary keys a sweep may optimise (conf/train.yaml optimized_metric), besides
# val/norm_l1_levels_K (K < num_quantizers); directions: rvqvae.training.objective.
PERCEPTUAL_OBJECTIVES = ("val/visqol", "val/lsd")
OBJECTIVE_KEYS = (
    "val/norm_l1",
    "rd_cost",
    "bitrate_bps",
    "val/recon_l1",
    "best/val/norm_l1",
    "best/val/recon_l1",
    "train_seconds",
    *PERCEPTUAL_OBJECTIVES,
)
_LEVEL_KEY = re.compile(r"val/norm_l1_levels_(\d+)")


def check_objective(objective: Any, num_quantizers: int, perceptual: bool = True) -> None:
    """``optimized_metric`` must be null, a key the summary will hold, or a list of such keys
    (``perceptual``: whether the end-of-training perceptual evaluation is on)."""
    keys = [objective] if isinstance(objective, str) else objective
    if objective is None:
        return
    if not isinstance(keys, list | tuple) or not keys:
        raise ConfigError(f"optimized_metric must be a key or a list of keys, got {objective!r}")
    for key in keys:
        if key in PERCEPTUAL_OBJECTIVES and not perceptual:
            raise ConfigError(f"optimized_metric {key!r} needs evaluation.perceptual on")
        level = _LEVEL_KEY.fullmatch(str(key))
        if key in OBJECTIVE_KEYS or (level and 1 <= int(level.group(1)) < num_quantizers):
            continue
        raise ConfigError(
            f"optimized_metric {key!r} is not a summary key of this run: use one of "
            f"{', '.join(OBJECTIVE_KEYS)} or val/norm_l1_levels_K (K < num_quantizers)"
        )
