"""Wall-clock timing that waits for the accelerator: CUDA kernels run asynchronously, so the
clock is read only after ``torch.cuda.synchronize`` when the work runs on a CUDA device."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def synchronize(device: torch.device | str | None) -> None:
    """Wait for every queued kernel on ``device`` when it is a CUDA device (else nothing)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[..., T], *args: Any, device: torch.device | str | None = None, **kwargs: Any
) -> tuple[T, float]:
    """``(fn(*args, **kwargs), seconds)``, synchronizing ``device`` before and after the call."""
    synchronize(device)
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    synchronize(device)
    return out, time.perf_counter() - t0
