"""VQ-VAE configuration and the dataset-adaptive codebook tiers.

Pure Python on purpose: importing this module must not import torch, because the Hydra
resolver calls :func:`get_adaptive_vqvae_config` at config-composition time.

This module is the single home of the tier numbers. The Hydra configs read them from here
(through the ``rvqvae.tier`` resolver) instead of repeating them in YAML.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class VQVAEConfig:
    """VQ-VAE model and training configuration."""

    # Model architecture
    codebook_dim: int = 128  # dimension of each code vector (encoder output channels)
    codebook_size: int = 256  # codes per RVQ level; auto-scaled by dataset size
    num_quantizers: int = 3  # RVQ levels (structure / timbre / detail), usually 2-4

    # Quantizer (vector-quantize-pytorch parameters)
    decay: float = 0.95  # EMA decay (lower for small datasets)
    commitment_weight: float = 0.25  # commitment loss weight (library default is 1.0)
    threshold_ema_dead_code: int = 2  # codes with EMA cluster size below this are replaced
    kmeans_init: bool = True
    kmeans_iters: int = 10

    # Regularization
    dropout: float = 0.2
    gradient_clip_norm: float = 1.0

    # Training
    batch_size: int = 32
    max_epochs: int = 200
    learning_rate: float = 1e-3
    weight_decay: float = 0.01

    # Dataset
    chunk_duration_s: float = 1.0
    val_fraction: float = 0.2
    augmentation_expansion: int = 10

    # Checkpoint / preview
    checkpoint_interval: int = 10
    preview_interval: int = 20
    max_checkpoints: int = 3

    # Device
    device: str = "auto"
    num_workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (for OmegaConf / JSON)."""
        return asdict(self)


def _adaptive_val_fraction(file_count: int) -> float:
    """Validation fraction: 0.5 (<10 files), 0.3 (<50), 0.2 (<200), 0.1 (>=200)."""
    if file_count < 10:
        return 0.5
    if file_count < 50:
        return 0.3
    if file_count < 200:
        return 0.2
    return 0.1


# Named tiers: (largest file count of the tier, tier parameters). The single home of these numbers.
TIERS: dict[str, tuple[float, dict[str, Any]]] = {
    "small": (
        20,
        dict(
            codebook_size=64,
            decay=0.8,
            dropout=0.4,
            max_epochs=100,
            learning_rate=5e-4,
            augmentation_expansion=15,
        ),
    ),
    "medium": (
        100,
        dict(
            codebook_size=128,
            decay=0.9,
            dropout=0.2,
            max_epochs=200,
            learning_rate=1e-3,
            augmentation_expansion=10,
        ),
    ),
    "large": (
        float("inf"),
        dict(
            codebook_size=256,
            decay=0.95,
            dropout=0.1,
            max_epochs=300,
            learning_rate=1e-3,
            augmentation_expansion=5,
        ),
    ),
}


def _check_file_count(file_count: int) -> None:
    if isinstance(file_count, bool) or not isinstance(file_count, int):
        raise ValueError(f"file_count must be an integer >= 1, got {file_count!r}")
    if file_count < 1:
        raise ValueError(
            f"file_count must be >= 1, got {file_count}: the dataset has no usable audio files"
        )


def tier_name_for(file_count: int) -> str:
    """Name of the tier (``small``/``medium``/``large``) for ``file_count`` audio files."""
    _check_file_count(file_count)
    return next(name for name, (max_files, _) in TIERS.items() if file_count <= max_files)


def get_adaptive_vqvae_config(file_count: int, tier: str | None = None) -> VQVAEConfig:
    """Return a :class:`VQVAEConfig` scaled to the number of audio files.

    ============  =============  =====  =======  ======  =====  =========
    files         codebook_size  decay  dropout  epochs  lr     expansion
    ============  =============  =====  =======  ======  =====  =========
    <= 20         64             0.8    0.4      100     5e-4   15
    <= 100        128            0.9    0.2      200     1e-3   10
    > 100         256            0.95   0.1      300     1e-3   5
    ============  =============  =====  =======  ======  =====  =========

    All tiers: ``num_quantizers=3``, ``codebook_dim=128``, ``commitment_weight=0.25``,
    ``threshold_ema_dead_code=2``, k-means init with 10 iterations.
    ``batch_size = min(32, max(1, file_count * 5 // 4))``; ``val_fraction`` is 0.5 below 10
    files, 0.3 below 50, 0.2 below 200 and 0.1 from 200 on.

    ``tier`` (``small``/``medium``/``large``) forces the tier's parameters (the rows above)
    while batch size and validation fraction still follow ``file_count``.

    Raises:
        ValueError: if ``file_count`` is not an integer >= 1 or ``tier`` is unknown.
    """
    _check_file_count(file_count)
    if tier is None or tier == "auto":
        tier = tier_name_for(file_count)
    if tier not in TIERS:
        raise ValueError(f"tier must be one of auto, {', '.join(TIERS)}; got {tier!r}")
    return VQVAEConfig(
        num_quantizers=3,
        codebook_dim=128,
        commitment_weight=0.25,
        threshold_ema_dead_code=2,
        kmeans_init=True,
        kmeans_iters=10,
        batch_size=min(32, max(1, file_count * 5 // 4)),
        val_fraction=_adaptive_val_fraction(file_count),
        **TIERS[tier][1],
    )
