"""Custom OmegaConf resolvers, registered at import time (``replace=True``).

Importing :mod:`rvqvae` registers them, so they exist before ``@hydra.main`` composes the
config and in joblib/submitit workers (Hydra pickles the resolvers with the job).

- ``${rvqvae.file_count:PATH}``: number of audio files under PATH (cheap: no decoding; the
  folder is walked once per config object).
- ``${rvqvae.tier:KEY,FILE_COUNT[,TIER]}``: value KEY of
  :func:`rvqvae.training.config.get_adaptive_vqvae_config` (TIER: auto/small/medium/large).
- ``${rvqvae.precision:ACCELERATOR,ON_CPU}``: ``bf16-mixed`` on a CUDA GPU with bf16; on the CPU
  ON_CPU (``auto``: ``bf16-mixed`` where it has AVX512-BF16/AMX, else ``32-true``).
- ``${rvqvae.prior:KEY,FILE_COUNT[,SIZE[,ORDER]]}``: value KEY of
  :func:`rvqvae.prior.config.get_prior_config` (SIZE: auto/small/medium/large; ORDER: the
  token order, flat by default).
- ``${rvqvae.vqvae_file_count:SPEC}``: the file count of the VQ-VAE run ``SPEC`` (a run folder
  or checkpoint): its ``summary.json``, else the config stored in its checkpoint.
- ``${rvqvae.direction:OBJECTIVE}``: ``minimize`` / ``maximize`` (a list for a list) for the
  Optuna sweeper, from the summary key(s) of ``optimized_metric``
  (:mod:`rvqvae.training.objective`: ``val/visqol`` is maximised, the rest minimised).
- ``${rvqvae.shared_gpu_jobs:JOBS_PER_GPU,GPUS}``: ``n_jobs`` of ``hydra/launcher=gpu_shared``
  (:func:`rvqvae.training.gpu_share.shared_gpu_jobs`; GPUS ``auto`` = the visible GPUs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from rvqvae.training.config import get_adaptive_vqvae_config

_FILE_COUNT_MEMO = "rvqvae.file_count:walked"  # our own key in a config's resolver cache


def file_count(path: str, *, _root_: Any = None) -> int:
    """Number of usable audio files under ``path`` (raises DatasetError with a clear line).

    Memoised per config object (in its OmegaConf resolver cache, keyed on the resolved path),
    so the folder is walked once per composition, not once per interpolation that uses the
    count; ``OmegaConf.clear_cache(cfg)`` forgets it, and copies of the config carry it.
    """
    from rvqvae.data import discovery

    memo = (
        OmegaConf.get_cache(_root_).setdefault(_FILE_COUNT_MEMO, {}) if _root_ is not None else {}
    )
    key = str(Path(str(path)).expanduser().resolve())
    if key not in memo:
        memo[key] = discovery.count_audio_files(path)
    return memo[key]


def tier_value(key: str, count: Any, tier: str = "auto") -> Any:
    """One field of the adaptive config for ``count`` files (``tier`` forces a named tier)."""
    cfg = get_adaptive_vqvae_config(int(count), tier=str(tier))
    if not hasattr(cfg, key):
        raise ValueError(f"rvqvae.tier: unknown key {key!r}")
    return getattr(cfg, key)


def prior_value(key: str, count: Any, size: str = "auto", order: str = "flat") -> Any:
    """One field of the prior config for ``count`` VQ-VAE files (``size`` forces a size;
    ``order``: the token order, which sets a masked prior's epochs)."""
    from rvqvae.prior.config import get_prior_config

    cfg = get_prior_config(int(count), size=str(size), order=str(order))
    if not hasattr(cfg, key):
        raise ValueError(f"rvqvae.prior: unknown key {key!r}")
    return getattr(cfg, key)


def vqvae_file_count(spec: Any) -> int:
    """Files of the VQ-VAE run ``spec`` (run folder or checkpoint), read without torch when the
    run folder has a summary.json."""
    import json

    path = Path(str(spec)).expanduser()
    run_dir = path if path.is_dir() else path.parent.parent
    if path.is_file() and path.parent.name != "checkpoints":
        run_dir = None
    summary = run_dir / "summary.json" if run_dir is not None else None
    if summary is not None and summary.is_file():
        try:
            count = json.loads(summary.read_text()).get("file_count")
        except (OSError, ValueError):
            count = None
        if isinstance(count, int) and count > 0:
            return count
    from rvqvae.prior.checkpoint import resolve_vqvae
    from rvqvae.training.checkpoint import read_checkpoint

    config = read_checkpoint(resolve_vqvae(path), accept_prior=False)["rvqvae"]["config"]
    count = (config.get("dataset") or {}).get("file_count")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"vqvae={spec}: its checkpoint does not record a file count")
    return count


CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 math


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU does bf16 math natively (AVX512-BF16 or AMX); False where unknown."""
    try:
        flags = next(
            (
                line.split(":", 1)[1].split()
                for line in Path(cpuinfo).read_text().splitlines()
                if line.startswith("flags")
            ),
            [],
        )
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def auto_precision(accelerator: str = "auto", on_cpu: str = "32-true") -> str:
    """Lightning precision for ``trainer.accelerator``: bf16 mixed precision on a CUDA GPU with
    bf16; on the CPU ``on_cpu`` (``auto``: bf16 mixed where the CPU has native bf16, else
    fp32); fp32 elsewhere (MPS)."""
    import torch

    cuda = torch.cuda.is_available()
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and cuda):
        return "bf16-mixed" if cuda and torch.cuda.is_bf16_supported() else "32-true"
    on_cpu_device = accelerator == "cpu" or (
        accelerator == "auto" and not torch.backends.mps.is_available()
    )
    if not on_cpu_device:
        return "32-true"
    if on_cpu == "auto":
        return "bf16-mixed" if cpu_has_bf16() else "32-true"
    return on_cpu


def shared_gpu_jobs(jobs_per_gpu: Any, gpus: Any) -> int:
    """Jobs side by side under ``hydra/launcher=gpu_shared``: ``jobs_per_gpu x gpus``."""
    from rvqvae.training.gpu_share import shared_gpu_jobs as jobs

    return jobs(jobs_per_gpu, gpus)


def objective_direction(objective: Any) -> Any:
    """The sweeper's ``direction`` for ``optimized_metric`` (one key or a list of keys)."""
    from rvqvae.training.objective import direction

    if OmegaConf.is_config(objective):
        objective = OmegaConf.to_container(objective, resolve=True)
    return direction(objective)


def register_resolvers() -> None:
    """Register (or re-register) every rvqvae resolver."""
    OmegaConf.register_new_resolver("rvqvae.file_count", file_count, replace=True)
    OmegaConf.register_new_resolver("rvqvae.tier", tier_value, replace=True)
    OmegaConf.register_new_resolver("rvqvae.precision", auto_precision, replace=True)
    OmegaConf.register_new_resolver("rvqvae.prior", prior_value, replace=True)
    OmegaConf.register_new_resolver("rvqvae.vqvae_file_count", vqvae_file_count, replace=True)
    OmegaConf.register_new_resolver("rvqvae.shared_gpu_jobs", shared_gpu_jobs, replace=True)
    OmegaConf.register_new_resolver("rvqvae.direction", objective_direction, replace=True)


register_resolvers()
