"""The device path of the datamodule (``dataset.augment_on=device``): the loaders yield chunk
indices and the batch is gathered and augmented where the indices are. On CPU it must build
exactly the batches the loader path builds; with a CUDA device it must not synchronise."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rvqvae.data.augment import ChunkBatcher
from rvqvae.data.datamodule import MelDataModule
from tests.helpers import train_here
from tests.training.conftest import fast_args


@pytest.fixture
def six_files(tmp_path: Path, write_wav) -> Path:
    root = tmp_path / "six"
    for i in range(6):
        write_wav(root / f"f{i}.wav", duration_s=1.5 + 0.5 * (i % 2), freq=150.0 * (i + 1))
    return root


def _dm(root: Path, tmp_path: Path, augment_on: str) -> MelDataModule:
    dm = MelDataModule(
        path=str(root),
        cache_dir=str(tmp_path / "cache"),
        batch_size=4,
        augmentation_expansion=3,
        seed=7,
        augment_on=augment_on,
    )
    dm.setup()
    return dm


def test_device_path_builds_the_loader_paths_batches(six_files: Path, tmp_path: Path) -> None:
    loader, device = _dm(six_files, tmp_path, "loader"), _dm(six_files, tmp_path, "device")
    assert device.augments_on_device() and not loader.augments_on_device()
    for _epoch in range(2):  # the random streams stay in step across epochs
        expected = list(loader.train_dataloader())
        got = list(device.train_dataloader())
        assert len(got) == len(expected) > 1
        assert all(set(batch) == {"train_indices"} for batch in got)  # indices only, no data
        for batch, reference in zip(got, expected):
            mels = device.on_after_batch_transfer(batch, 0)
            assert mels.shape == reference.shape and mels.shape[1:] == (1, 128, 94)
            torch.testing.assert_close(mels, reference, rtol=0, atol=0)
    val = [device.on_after_batch_transfer(b, 0) for b in device.val_dataloader()]
    torch.testing.assert_close(torch.cat(val), loader.val_chunks, rtol=0, atol=0)
    # code outside the Trainer's loop gets mel batches on either path
    first = next(iter(device.training_batches()))
    assert first.shape == (4, 1, 128, 94) and first.dtype == torch.float32


def test_unknown_augment_on_is_a_one_line_error(six_files: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset.augment_on must be one of"):
        MelDataModule(path=str(six_files), cache_dir=str(tmp_path / "c"), augment_on="gpu")


def test_auto_stays_on_the_loader_without_cuda(six_files: Path, tmp_path: Path) -> None:
    dm = _dm(six_files, tmp_path, "auto")
    assert not dm.augments_on_device()  # no trainer attached: nothing to place the data on
    assert not isinstance(next(iter(dm.train_dataloader())), dict)


def test_training_on_the_device_path_matches_the_loader_path(
    six_files: Path, tmp_path: Path
) -> None:
    """A real fit through the Trainer (its batch-transfer hook) on CPU: same seed, same batches,
    so the same model and metrics as the loader path."""
    summaries = {
        where: train_here(
            fast_args(six_files, tmp_path / where, f"dataset.augment_on={where}"),
            tmp_path / where,
            cache_dir=tmp_path / "cache",
        )
        for where in ("loader", "device")
    }
    loader, device = summaries["loader"], summaries["device"]
    assert device["status"] == loader["status"] == "completed"
    assert device["global_step"] == loader["global_step"] > 0
    assert device["val/norm_l1"] == pytest.approx(loader["val/norm_l1"], rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_need_no_host_synchronisation() -> None:
    torch.manual_seed(0)
    store = torch.rand(128, 4000)
    starts = torch.arange(0, 3000, 50)
    batcher = ChunkBatcher(store, starts, starts * 0, starts + 200, starts + 400, 94, True, 3)
    batcher.to("cuda")
    idx = torch.randint(0, batcher.num_chunks, (32,), device="cuda")
    batcher(idx)  # warm-up (lazy CUDA initialisation synchronises once)
    torch.cuda.set_sync_debug_mode("error")
    try:
        batch = batcher(idx)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert batch.device.type == "cuda" and batch.shape == (32, 1, 128, 94)
    assert bool(torch.isfinite(batch).all()) and float(batch.min()) >= 0.0
