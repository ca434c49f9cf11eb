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


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps`` (at most a tenth of the run), then cosine decay to
    zero at ``total_steps``."""
    total = max(1, int(total_steps))
    warmup = min(int(warmup_steps), total // 10)

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return ramp * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
