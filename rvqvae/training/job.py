"""What every training job (RVQ-VAE or prior) does around its own work.

- :func:`training_job`: ``summary.json`` written ``running`` at the start and ``completed`` or
  ``failed`` (with the error's first line) at the end by rank 0, wall time, the W&B run summary,
  and ``wandb.finish()`` whatever happens.
- :func:`run_entry`: the body of a ``@hydra.main``: one-line errors, exit code 1 for a single
  run, ``inf`` for a failed sweep job (the sweep goes on), the sweep objective otherwise: the
  summary key(s) the config's ``optimized_metric`` names (one key, or a list for a
  multi-objective study).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from rvqvae.atomic import atomic_write_json
from rvqvae.training.distributed import launch_rank_is_zero
from rvqvae.training.loggers import finish_wandb, update_wandb_summary
from rvqvae.training.objective import worst


@dataclass
class JobContext:
    """The Hydra job a training body runs in, and the summary it fills."""

    run_dir: Path
    hydra_cfg: Any
    summary: dict[str, Any]
    is_zero: bool = True  # rank 0 writes summary.json; the body updates it once the Trainer knows
    on_failure: Callable[[], dict[str, Any]] | None = field(default=None)

    @property
    def is_multirun(self) -> bool:
        return self.hydra_cfg.mode == RunMode.MULTIRUN


def one_line_error(exc: BaseException) -> str:
    """``Type: first line`` of an error; instantiate() wrappers are unwrapped to their cause."""
    from hydra.errors import InstantiationException

    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


@contextmanager
def training_job(kind: str | None = None) -> Iterator[JobContext]:
    """Run a job body in the current Hydra run folder with its ``summary.json`` kept true."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    summary: dict[str, Any] = {"status": "running", "error": None}
    if kind:
        summary["kind"] = kind
    summary["overrides"] = list(hydra_cfg.overrides.task)
    ctx = JobContext(run_dir, hydra_cfg, summary, is_zero=launch_rank_is_zero())
    path = run_dir / "summary.json"
    if ctx.is_zero:
        atomic_write_json(path, summary)
    started = time.perf_counter()
    try:
        yield ctx
        summary["status"] = "completed"
    except BaseException as exc:
        summary["status"] = "failed"
        summary["error"] = one_line_error(exc)
        if ctx.on_failure is not None:
            summary.update(ctx.on_failure())
        raise
    finally:
        summary["wall_seconds"] = time.perf_counter() - started
        update_wandb_summary(summary)
        summary["run_dir"] = str(run_dir)
        if ctx.is_zero:
            atomic_write_json(path, summary)
        finish_wandb()


Objective = str | Sequence[str] | None


def run_entry(
    job: Callable[[], dict[str, Any]],
    objective: Objective,
    print_summary: Callable[[dict[str, Any]], None],
    log: logging.Logger,
) -> float | list[float] | None:
    """Run ``job`` for a ``@hydra.main``; return the sweep objective read from its summary.

    ``objective`` is the config's ``optimized_metric``: one summary key (a float is returned),
    a list of keys (a multi-objective study: a list of floats in that order), or None (nothing
    is optimised: None is returned). A failure is logged on one line; a single run then exits
    with code 1 (a traceback only at DEBUG level), a sweep job returns ``inf`` for every
    objective so the sweep goes on and the report marks the job failed. Optuna records inf as
    the worst value (a failed trial is never on a Pareto front), while NaN would abort the
    whole study: a finished run whose summary has no number for a key also gives inf, with a
    warning.
    """
    try:
        summary = job()
    except Exception as exc:
        log.error("%s", one_line_error(exc))
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return objective_values(None, objective)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        sys.exit(1)
    print_summary(summary)
    missing = [k for k in objective_keys(objective) if not _is_number(summary.get(k))]
    if missing:
        log.warning("optimized_metric: the summary has no value for %s (inf)", ", ".join(missing))
    return objective_values(summary, objective)


def objective_from_config(cfg: Any) -> Objective:
    """The config's ``optimized_metric``: a key, a list of keys (multi-objective) or None."""
    from omegaconf import OmegaConf

    metric = cfg.get("optimized_metric")
    return OmegaConf.to_container(metric, resolve=True) if OmegaConf.is_config(metric) else metric


def objective_keys(objective: Objective) -> list[str]:
    """The summary keys ``objective`` names: none, one, or several in order."""
    if objective is None:
        return []
    return [objective] if isinstance(objective, str) else [str(k) for k in objective]


def objective_values(
    summary: dict[str, Any] | None, objective: Objective
) -> float | list[float] | None:
    """``summary[key]`` for one key, a list for several, None for none; the worst value (inf,
    or -inf for a maximised key such as val/visqol) for a failed job (``summary`` None) or a
    key without a number."""

    def value(key: str) -> float:
        v = (summary or {}).get(key)
        return float(v) if _is_number(v) else worst(key)

    if objective is None:
        return None
    if isinstance(objective, str):
        return value(objective)
    return [value(key) for key in objective_keys(objective)]


def _is_number(value: Any) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and not math.isnan(value)
