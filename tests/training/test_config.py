"""VQVAEConfig and the adaptive codebook tiers (pure Python)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rvqvae.training.config import VQVAEConfig, get_adaptive_vqvae_config


@pytest.mark.parametrize(
    ("file_count", "codebook_size", "decay"),
    [(10, 64, 0.8), (50, 128, 0.9), (200, 256, 0.95)],
)
def test_seed_tiers(file_count: int, codebook_size: int, decay: float) -> None:
    cfg = get_adaptive_vqvae_config(file_count)
    assert (cfg.codebook_size, cfg.decay) == (codebook_size, decay)


@pytest.mark.parametrize(
    ("file_count", "expected"),
    [
        (
            1,
            dict(
                codebook_size=64,
                dropout=0.4,
                max_epochs=100,
                learning_rate=5e-4,
                augmentation_expansion=15,
                batch_size=1,
                val_fraction=0.5,
            ),
        ),
        (20, dict(codebook_size=64, batch_size=25, val_fraction=0.3)),
        (
            21,
            dict(
                codebook_size=128,
                decay=0.9,
                dropout=0.2,
                max_epochs=200,
                learning_rate=1e-3,
                augmentation_expansion=10,
                batch_size=26,
            ),
        ),
        (100, dict(codebook_size=128, batch_size=32, val_fraction=0.2)),
        (101, dict(codebook_size=256, dropout=0.1, max_epochs=300, augmentation_expansion=5)),
        (199, dict(val_fraction=0.2)),
        (200, dict(val_fraction=0.1)),
        (500, dict(codebook_size=256, batch_size=32, val_fraction=0.1)),
    ],
)
def test_tier_boundaries(file_count: int, expected: dict) -> None:
    cfg = get_adaptive_vqvae_config(file_count)
    for key, value in expected.items():
        assert getattr(cfg, key) == value, key
    assert cfg.num_quantizers == 3 and cfg.codebook_dim == 128
    assert cfg.commitment_weight == 0.25 and cfg.threshold_ema_dead_code == 2
    assert cfg.kmeans_init is True and cfg.kmeans_iters == 10


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_file_count(bad: object) -> None:
    with pytest.raises(ValueError, match="file_count"):
        get_adaptive_vqvae_config(bad)  # type: ignore[arg-type]


def test_defaults_and_to_dict() -> None:
    cfg = VQVAEConfig()
    assert cfg.to_dict()["codebook_dim"] == 128
    assert cfg.to_dict()["commitment_weight"] == 0.25


def test_config_module_does_not_import_torch() -> None:
    code = (
        "import sys; import rvqvae.training.config as c; c.get_adaptive_vqvae_config(5); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("tier", "size"), [("small", 64), ("medium", 128), ("large", 256)])
def test_forced_tier_keeps_file_count_rules(tier: str, size: int) -> None:
    cfg = get_adaptive_vqvae_config(7, tier=tier)
    assert cfg.codebook_size == size
    assert cfg.batch_size == 8 and cfg.val_fraction == 0.5


def test_unknown_tier() -> None:
    with pytest.raises(ValueError, match="tier"):
        get_adaptive_vqvae_config(7, tier="huge")
