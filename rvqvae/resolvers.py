"""Custom OmegaConf resolvers, registered at import time (``replace=True``).

Importing :mod:`rvqvae` registers them, so they exist before ``@hydra.main`` composes the
config and in joblib/submitit workers (Hydra pickles the resolvers with the job).

- ``${rvqvae.file_count:PATH}``: number of audio files under PATH (cheap: no decoding).
- ``${rvqvae.tier:KEY,FILE_COUNT[,TIER]}``: value KEY of
  :func:`rvqvae.training.config.get_adaptive_vqvae_config` (TIER: auto/small/medium/large).
- ``${rvqvae.precision:}``: ``bf16-mixed`` when a CUDA GPU with bf16 is present, else ``32-true``.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from rvqvae.training.config import get_adaptive_vqvae_config


def file_count(path: str) -> int:
    """Number of usable audio files under ``path`` (raises DatasetError with a clear line)."""
    from rvqvae.data.audio import count_audio_files

    return count_audio_files(path)


def tier_value(key: str, count: Any, tier: str = "auto") -> Any:
    """One field of the adaptive config for ``count`` files (``tier`` forces a named tier)."""
    cfg = get_adaptive_vqvae_config(int(count), tier=str(tier))
    if not hasattr(cfg, key):
        raise ValueError(f"rvqvae.tier: unknown key {key!r}")
    return getattr(cfg, key)


def auto_precision() -> str:
    """Lightning precision string: bf16 mixed precision on a capable CUDA GPU, else fp32."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def register_resolvers() -> None:
    """Register (or re-register) every rvqvae resolver."""
    OmegaConf.register_new_resolver("rvqvae.file_count", file_count, replace=True)
    OmegaConf.register_new_resolver("rvqvae.tier", tier_value, replace=True)
    OmegaConf.register_new_resolver("rvqvae.precision", auto_precision, replace=True)


register_resolvers()
