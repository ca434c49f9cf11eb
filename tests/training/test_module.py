"""RVQVAEModule in-process: k-means init on training data, validation metrics."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from rvqvae.data.datamodule import MelDataModule
from rvqvae.models.vqvae import ConvVQVAE
from rvqvae.training.module import RVQVAEModule

from .conftest import write_tones


@pytest.fixture
def datamodule(tmp_path: Path) -> MelDataModule:
    folder = write_tones(tmp_path / "audio", 6)
    return MelDataModule(
        path=str(folder),
        batch_size=4,
        val_fraction=0.34,
        augmentation_expansion=2,
        cache_dir=str(tmp_path / "cache"),
        seed=0,
    )


def test_kmeans_init_uses_training_chunks_before_sanity_check(
    datamodule: MelDataModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ConvVQVAE(codebook_dim=16, codebook_size=16, num_quantizers=2)
    module = RVQVAEModule(model, init_vectors_per_code=4)
    seen: list[torch.Tensor] = []
    original = model.init_codebooks

    def record(x: torch.Tensor, force: bool = False) -> None:
        seen.append(x.clone())
        original(x, force)

    monkeypatch.setattr(model, "init_codebooks", record)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=1,
        num_sanity_val_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)
    assert len(seen) == 1, "codebooks must be initialised exactly once"
    init = seen[0]
    assert init.shape[0] * 48 >= 4 * 16  # >= init_vectors_per_code x codebook_size vectors
    train = datamodule.train_chunks.reshape(datamodule.train_chunks.shape[0], -1)
    val = datamodule.val_chunks.reshape(datamodule.val_chunks.shape[0], -1)
    for chunk in init.reshape(init.shape[0], -1):
        assert torch.isclose(train, chunk).all(dim=1).any(), "init chunk is not a training chunk"
        assert not torch.isclose(val, chunk).all(dim=1).any()
    assert module.init_source.startswith("train:")
    assert model.quantizer.initted


def test_validation_metrics_match_direct_computation(datamodule: MelDataModule) -> None:
    model = ConvVQVAE(codebook_dim=16, codebook_size=16, num_quantizers=2)
    module = RVQVAEModule(model, init_vectors_per_code=4)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)
    model.eval()
    with torch.no_grad():
        recon, indices, _ = model(datamodule.val_chunks)
    x = datamodule.val_chunks
    expected_l1 = (recon - x).abs().mean()
    expected_norm = (recon - x).abs().sum() / (x - datamodule.mean_train_mel).abs().sum()
    metrics = trainer.callback_metrics
    assert float(metrics["val/recon_l1"]) == pytest.approx(float(expected_l1), rel=1e-4)
    assert float(metrics["val/norm_l1"]) == pytest.approx(float(expected_norm), rel=1e-4)
    health = model.get_codebook_utilization(indices)
    assert float(metrics["val/codebook/level_1/utilization"]) == pytest.approx(
        health["level_1"]["utilization"]
    )
    assert float(metrics["bitrate_bps"]) == pytest.approx(48 * 2 * 4)  # 48 positions/s, 4 bits


def test_codebook_usage_histograms_cap_at_512_bins() -> None:
    import numpy as np

    from rvqvae.training.loggers import codebook_usage_histograms

    counts = np.arange(2 * 1024, dtype=float).reshape(2, 1024)
    hists = codebook_usage_histograms(counts)
    assert set(hists) == {"val/codebook/level_0/usage", "val/codebook/level_1/usage"}
    level_1 = hists["val/codebook/level_1/usage"]
    assert len(level_1.histogram) == 512 and len(level_1.bins) == 513
    assert sum(level_1.histogram) == counts[1].sum()
    small = codebook_usage_histograms(np.array([[3.0, 0.0, 1.0]]))["val/codebook/level_0/usage"]
    assert list(small.histogram) == [3.0, 0.0, 1.0]
