"""Learning-rate schedules shared by the RVQ-VAE and the prior, and the shapes of the
``conf/optimizer/`` and ``conf/scheduler/`` partials their modules call."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

# an optimizer partial takes the parameters (or parameter groups); a scheduler partial takes
# optimizer= and total_steps=
OptimizerFactory = Callable[[Iterable[Any]], torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


def check_budget(budget: str, has_time_budget: bool) -> None:
    """Refuse (``ValueError``, one line) a ``scheduler.budget`` other than steps or time, and
    ``time`` without ``trainer.max_time``."""
    if budget not in ("steps", "time"):
        raise ValueError(f"scheduler.budget must be steps or time, got {budget!r}")
    if budget == "time" and not has_time_budget:
        raise ValueError(
            "scheduler.budget=time fits the decay to trainer.max_time, which is not set: add "
            "e.g. trainer.max_time=00:00:06:00, or use scheduler=cosine"
        )


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int,
    total_steps: int,
    budget: str = "steps",
    time_fraction: Callable[[], float] | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps`` (at most a tenth of the run), then cosine decay to
    zero at ``total_steps``.

    ``budget="time"`` fits the decay to the training time budget as well: the cosine follows
    whichever is further along, the steps or ``time_fraction()`` (the share of
    ``trainer.max_time`` spent, which the training module passes), so a run that
    ``trainer.max_time`` stops ends annealed whatever ``trainer.max_epochs`` says."""
    check_budget(budget, has_time_budget=time_fraction is not None)
    total = max(1, int(total_steps))
    warmup = min(int(warmup_steps), total // 10)
    spent = time_fraction if budget == "time" else None

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        progress = min(step, total) / total
        if spent is not None:
            progress = max(progress, min(1.0, max(0.0, spent())))
        return ramp * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
