"""Several jobs of a sweep on each GPU (``hydra/launcher=gpu_shared``): how many run at once and
which GPU each one trains on.

The preset (``conf/hydra/launcher/gpu_shared.yaml``) keeps its own keys in a top-level
``gpu_share`` node (``jobs_per_gpu``, ``gpus``): the joblib plugin hands every key of
``hydra.launcher`` to ``joblib.Parallel``. ``n_jobs`` is ``${rvqvae.shared_gpu_jobs:...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class GpuShareError(ValueError):
    """A ``gpu_share`` or trainer setting that cannot place the jobs; the message names it."""


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GpuShareError(f"gpu_share.{name} must be an integer >= 1, got {value!r}")
    return value


def visible_gpus() -> int:
    """CUDA devices this process can see (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def shared_gpu_jobs(jobs_per_gpu: Any, gpus: Any, visible: int | None = None) -> int:
    """``n_jobs`` of the preset: ``jobs_per_gpu x gpus`` (``auto``: the visible GPUs; with none,
    ``jobs_per_gpu`` jobs side by side on the CPU)."""
    per_gpu = _count("jobs_per_gpu", jobs_per_gpu)
    if gpus == "auto":
        return per_gpu * max(1, visible_gpus() if visible is None else visible)
    return per_gpu * _count("gpus", gpus)


def shared_gpu_devices(
    trainer_cfg: Mapping[str, Any],
    share_cfg: Mapping[str, Any],
    job_num: int,
    visible: int | None = None,
) -> list[int] | None:
    """``trainer.devices`` of sweep job ``job_num``: ``[job_num % gpus]``, so the jobs spread
    round-robin over the GPUs. None (leave the trainer as it is) when the job does not train on
    a GPU. ``visible`` is the number of CUDA devices (default: ask torch)."""
    _count("jobs_per_gpu", share_cfg.get("jobs_per_gpu"))  # as the launcher's n_jobs checks it
    accelerator = str(trainer_cfg.get("accelerator") or "auto")
    if accelerator not in ("gpu", "cuda", "auto"):
        return None
    visible = visible_gpus() if visible is None else visible
    if accelerator == "auto" and visible == 0:
        return None
    gpus = share_cfg.get("gpus")
    count = visible if gpus == "auto" else _count("gpus", gpus)
    if count < 1:
        raise GpuShareError(
            f"gpu_share.gpus=auto but no CUDA GPU is visible: set trainer.accelerator=cpu or "
            f"drop hydra/launcher=gpu_shared (trainer.accelerator={accelerator})"
        )
    if count > visible:
        raise GpuShareError(f"gpu_share.gpus={count} but only {visible} CUDA GPU(s) are visible")
    devices = trainer_cfg.get("devices")
    if devices not in (1, "1"):  # "auto" or several: Lightning would start DDP in the worker
        raise GpuShareError(
            f"hydra/launcher=gpu_shared gives each job one GPU: trainer.devices must be 1, got "
            f"{devices!r} (several GPUs per job: DDP with the basic or slurm launcher)"
        )
    if isinstance(job_num, bool) or not isinstance(job_num, int) or job_num < 0:
        raise GpuShareError(f"hydra.job.num must be an integer >= 0, got {job_num!r}")
    return [job_num % count]
