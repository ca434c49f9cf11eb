"""Distributed and parallel-job plumbing: threads per job, rank checks, DDP inside multiruns."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hydra.types import RunMode
from omegaconf import open_dict, read_write

from rvqvae.atomic import atomic_write_json

# Set (to any value) to make every DDP rank write hashes of its state after each training step to
# ``<run dir>/rank_state/rank<R>.json`` (tests check that codebooks stay identical across ranks).
RANK_STATE_ENV = "RVQVAE_DUMP_RANK_STATE"
_RANK_ENV_KEYS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a SLURM allocation)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def job_num_threads(
    requested: int | None, launcher: Mapping[str, Any] | None, cpus: int | None = None
) -> int | None:
    """Torch threads for one job: ``num_threads`` if set; under a launcher that runs ``n_jobs``
    jobs side by side (joblib) ``cpus // n_jobs`` (joblib's ``-1`` = one job per core, ``-2`` =
    all but one core); else None (torch's default)."""
    if requested:
        return int(requested)
    n_jobs = (launcher or {}).get("n_jobs")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        return None
    cpus = cpus or available_cpus()
    parallel = n_jobs if n_jobs > 0 else max(1, cpus + 1 + n_jobs)
    return max(1, cpus // parallel)


def set_threads(num_threads: int) -> None:
    torch.set_num_threads(num_threads)
    # child processes (DataLoader workers, DDP ranks) and BLAS pools started later follow suit
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(num_threads)


def uses_gpu(trainer_cfg: Mapping[str, Any]) -> bool:
    accelerator = str(trainer_cfg.get("accelerator") or "auto")
    if accelerator == "auto":
        return torch.cuda.is_available()
    return accelerator in ("gpu", "cuda")


def launch_rank_is_zero() -> bool:
    """Rank 0 by the launcher's environment (Lightning DDP children, torchrun, srun); True
    without one. Used before the Trainer exists; afterwards ``trainer.is_global_zero``."""
    return all(int(os.environ.get(k) or 0) == 0 for k in _RANK_ENV_KEYS)


# Set by Lightning's DDP launcher in the rank-0 process; left behind, the next job of a multirun
# would think its ranks were started for it and wait for the previous job's ranks.
_DDP_ENV_KEYS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextmanager
def ddp_multirun_job(hydra_cfg: Any, distributed: bool) -> Iterator[None]:
    """Let each job of a multirun (basic launcher) run its own DDP fit.

    Lightning's DDP launcher starts ranks > 0 as ``python -m rvqvae.train <sys.argv[1:]>
    hydra.run.dir=<hydra.run.dir>``. In a multirun, ``sys.argv`` holds the whole sweep (``-m
    a=1,2``) and ``hydra.run.dir`` is not the job folder, so the children would start a sweep of
    their own elsewhere: while this is active they get this job's overrides and folder instead.
    Afterwards the process group and the launcher's environment variables are cleared.
    """
    if hydra_cfg.mode != RunMode.MULTIRUN or not distributed:
        yield
        return
    argv, run_dir = sys.argv[:], hydra_cfg.run.dir
    env = {key: os.environ.get(key) for key in _DDP_ENV_KEYS}
    sys.argv = [argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg), open_dict(hydra_cfg):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    try:
        yield
    finally:
        sys.argv = argv
        with read_write(hydra_cfg), open_dict(hydra_cfg):
            hydra_cfg.run.dir = run_dir
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def dump_rank_state(module: Any, rank: int, folder: Path) -> Path:
    """Write ``rank<R>.json``: sha256 of every state_dict tensor of this rank's module."""
    hashes = {
        key: hashlib.sha256(
            value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        ).hexdigest()
        for key, value in module.state_dict().items()
    }
    return atomic_write_json(folder / f"rank{rank}.json", hashes)


def rank_state_callback(folder: Path) -> Any:
    """Callback for ``RVQVAE_DUMP_RANK_STATE``: after every training step each rank rewrites
    ``rank<R>.json``. The last write is the state right after the final optimizer step and EMA
    update, before DDP's next forward re-broadcasts rank 0's buffers (codebooks included) and
    would hide ranks that drifted apart. After every epoch each rank also writes the figures it
    would log (``rank<R>_metrics.json``), so tests can see that they are reduced over ranks."""
    from lightning.pytorch.callbacks import Callback

    class RankStateDump(Callback):
        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            dump_rank_state(pl_module, trainer.global_rank, folder)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            atomic_write_json(folder / f"rank{trainer.global_rank}_metrics.json", metrics)

    return RankStateDump()


def distributed_world_size(trainer_cfg: Mapping[str, Any]) -> int:
    """Ranks of a DDP run from the trainer config: devices x num_nodes (1 if not countable)."""
    devices = trainer_cfg.get("devices")
    if isinstance(devices, list | tuple):
        per_node = len(devices)
    elif isinstance(devices, int) and not isinstance(devices, bool) and devices > 0:
        per_node = devices
    else:  # "auto", -1: only known once Lightning looks at the machine
        per_node = 1
    return per_node * int(trainer_cfg.get("num_nodes") or 1)
