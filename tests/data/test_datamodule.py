"""MelDataModule: split by file, bad input handling, batches, augmentation, helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rvqvae.data.chunks import file_to_chunks
from rvqvae.data.datamodule import MelDataModule, count_usable_files
from rvqvae.data.discovery import DatasetError
from rvqvae.data.loading import DatasetWarning
from rvqvae.data.mel import MelSettings


def _dm(root: Path, tmp_path: Path, **kwargs) -> MelDataModule:
    dm = MelDataModule(path=str(root), cache_dir=str(tmp_path / "cache"), **kwargs)
    dm.setup()
    return dm


@pytest.fixture
def ten_files(tmp_path: Path, write_wav) -> Path:
    root = tmp_path / "ten"
    for i in range(10):
        write_wav(root / f"f{i:02d}.wav", duration_s=1.0 + 0.5 * (i % 3), freq=100.0 * (i + 1))
    return root


def test_split_by_file_never_leaks(ten_files: Path, tmp_path: Path) -> None:
    dm = _dm(ten_files, tmp_path, val_fraction=0.3, seed=3)
    assert dm.file_count == 10 and len(dm.val_files) == 3 and len(dm.train_files) == 7
    assert set(dm.train_files).isdisjoint(dm.val_files)
    assert set(dm.train_files) | set(dm.val_files) == set(dm.files)
    assert {p for p, _ in dm.train_sources} == set(dm.train_files)
    assert {p for p, _ in dm.val_sources} == set(dm.val_files)
    assert len(dm.train_sources) == dm.train_chunks.shape[0]
    assert len(dm.val_sources) == dm.val_chunks.shape[0]
    # every chunk is exactly the corresponding window of its own file
    reference = {f: file_to_chunks(f, MelSettings()) for f in dm.files}
    for chunks, sources in [(dm.train_chunks, dm.train_sources), (dm.val_chunks, dm.val_sources)]:
        seen: dict[Path, int] = {}
        for chunk, (path, _start) in zip(chunks, sources):
            k = seen.get(path, 0)
            np.testing.assert_allclose(chunk.numpy(), reference[path][k], atol=1e-5)
            seen[path] = k + 1
        assert all(n == len(reference[p]) for p, n in seen.items())
    # deterministic for a seed, different for another one
    again = _dm(ten_files, tmp_path, val_fraction=0.3, seed=3)
    assert again.val_files == dm.val_files
    others = {tuple(_dm(ten_files, tmp_path, val_fraction=0.3, seed=s).val_files) for s in range(4)}
    assert len(others) > 1


@pytest.mark.parametrize("n, fraction, expected", [(2, 0.2, 1), (3, 0.9, 2), (10, 0.2, 2)])
def test_val_count(tmp_path: Path, write_wav, n: int, fraction: float, expected: int) -> None:
    for i in range(n):
        write_wav(tmp_path / "d" / f"{i}.wav", duration_s=1.0, freq=200.0 + 50 * i)
    dm = _dm(tmp_path / "d", tmp_path, val_fraction=fraction)
    assert len(dm.val_files) == expected and len(dm.train_files) == n - expected


def test_shapes_and_dataloaders(ten_files: Path, tmp_path: Path) -> None:
    dm = _dm(ten_files, tmp_path, batch_size=4, augmentation_expansion=3)
    n_train = dm.train_chunks.shape[0]
    assert dm.train_chunks.shape[1:] == (1, 128, 94) and dm.chunk_frames == 94
    assert dm.train_chunks.dtype == torch.float32 and dm.val_chunks.shape[1:] == (1, 128, 94)
    assert dm.mean_train_mel.shape == (1, 128, 94)
    torch.testing.assert_close(dm.mean_train_mel, dm.train_chunks.mean(0))
    loader = dm.train_dataloader()
    assert len(loader.dataset) == n_train * 3
    batches = list(loader)
    assert len(batches) == -(-n_train * 3 // 4)
    assert sum(b.shape[0] for b in batches) == n_train * 3
    assert all(b.shape[1:] == (1, 128, 94) and (b >= 0).all() for b in batches)
    val = list(dm.val_dataloader())
    assert all(b.shape[1:] == (1, 128, 94) for b in val)
    torch.testing.assert_close(torch.cat(val), dm.val_chunks)  # in order, not augmented
    torch.testing.assert_close(torch.cat(list(dm.val_dataloader())), dm.val_chunks)
    assert dm.frames_per_second == 93.75


def test_augmentation_changes_values_keeps_shape(ten_files: Path, tmp_path: Path) -> None:
    dm = _dm(ten_files, tmp_path, batch_size=8)
    batcher = dm.train_dataloader().collate_fn
    idx = list(range(dm.train_chunks.shape[0]))
    clean = dm.train_chunks[idx]
    aug1, aug2 = batcher(idx), batcher(idx)
    assert aug1.shape == clean.shape and aug1.dtype == torch.float32
    assert (aug1 >= 0).all() and torch.isfinite(aug1).all()
    assert not torch.allclose(aug1, clean) and not torch.allclose(aug1, aug2)
    # same order of magnitude as the clean data (gain +-6 dB, small shifts)
    assert 0.3 < aug1.mean() / clean.mean() < 3.0
    plain = _dm(ten_files, tmp_path, augment=False, batch_size=8)
    torch.testing.assert_close(plain.train_dataloader().collate_fn(idx), clean)


def test_training_batches_are_reproducible(ten_files: Path, tmp_path: Path) -> None:
    a = torch.cat(list(_dm(ten_files, tmp_path, seed=5).train_dataloader()))
    b = torch.cat(list(_dm(ten_files, tmp_path, seed=5).train_dataloader()))
    torch.testing.assert_close(a, b)


def test_dataloader_with_worker(ten_files: Path, tmp_path: Path) -> None:
    dm = _dm(ten_files, tmp_path, batch_size=8, num_workers=1)
    assert next(iter(dm.train_dataloader())).shape == (8, 1, 128, 94)


def test_init_batch_and_previews(ten_files: Path, tmp_path: Path) -> None:
    dm = _dm(ten_files, tmp_path)
    n_train = dm.train_chunks.shape[0]
    init = dm.init_batch(5)
    assert init.shape == (5, 1, 128, 94)
    train_rows = {tuple(c.flatten()[:64].tolist()) for c in dm.train_chunks}
    assert all(tuple(c.flatten()[:64].tolist()) in train_rows for c in init)
    torch.testing.assert_close(init, dm.init_batch(5))
    assert dm.init_batch(10_000).shape[0] == n_train
    prev = dm.preview_chunks(2)
    assert prev.shape == (2, 1, 128, 94)
    torch.testing.assert_close(prev, dm.preview_chunks(2))
    assert any(torch.equal(prev[0], v) for v in dm.val_chunks)


def test_bad_files_skip_and_error(tmp_path: Path, write_wav, make_tone) -> None:
    root = tmp_path / "mixed"
    write_wav(root / "good_a.wav", duration_s=1.5)
    write_wav(root / "good_b.flac", duration_s=1.5, freq=300.0, fmt="FLAC")
    write_wav(root / "stereo.wav", data=make_tone(1.0, channels=2), subtype="PCM_24")
    write_wav(root / "surround.wav", data=make_tone(1.0, channels=6))
    write_wav(root / "u8.wav", duration_s=1.0, subtype="PCM_U8", freq=500.0)
    write_wav(root / "float.wav", duration_s=1.0, subtype="FLOAT", freq=600.0, amp=1.5)
    write_wav(root / "low.wav", duration_s=1.0, sample_rate=8000, freq=700.0)
    write_wav(root / "high.wav", duration_s=1.0, sample_rate=96000, freq=800.0)
    write_wav(root / "tiny.wav", duration_s=0.1, freq=900.0)
    (root / "corrupt.wav").write_bytes(b"\x00garbage" * 200)
    (root / "empty.wav").write_bytes(b"")
    raw = (root / "good_a.wav").read_bytes()
    (root / "truncated.wav").write_bytes(raw[: len(raw) // 3])
    write_wav(root / "zero_len.wav", data=np.zeros(0, np.float32))
    nan = make_tone(0.5)
    nan[10] = np.nan
    write_wav(root / "nan.wav", data=nan, subtype="FLOAT")
    write_wav(root / "silent.wav", data=np.zeros(48000, np.float32))
    bad_names = {"corrupt.wav", "empty.wav", "truncated.wav", "zero_len.wav", "nan.wav"}
    bad_names.add("silent.wav")

    with pytest.warns(DatasetWarning) as record:
        dm = _dm(root, tmp_path, val_fraction=0.3)
    assert {p.name for p, _ in dm.bad_files} == bad_names
    assert dm.file_count == 9 and count_usable_files(root) == 15
    messages = [str(w.message) for w in record]
    for path, reason in dm.bad_files:
        assert any(str(path) in m and reason in m and "\n" not in m for m in messages)
    for batch in dm.train_dataloader():  # a full epoch, no crash
        assert batch.shape[1:] == (1, 128, 94)

    with pytest.raises(DatasetError) as info:
        _dm(root, tmp_path, on_bad_file="error")
    msg = str(info.value)
    assert all(name in msg for name in bad_names) and str(root) in msg and "\n" not in msg


def test_no_decodable_audio(tmp_path: Path) -> None:
    root = tmp_path / "junk"
    root.mkdir()
    for i in range(3):
        (root / f"{i}.wav").write_bytes(b"nope" * 100)
    with pytest.warns(DatasetWarning), pytest.raises(DatasetError) as info:
        _dm(root, tmp_path)
    assert "no decodable audio" in str(info.value) and str(root) in str(info.value)


@pytest.mark.parametrize("case", ["missing", "file", "empty"])
def test_bad_dataset_path(tmp_path: Path, case: str) -> None:
    target = tmp_path / "x"
    if case == "file":
        target.write_bytes(b"")
    elif case == "empty":
        target.mkdir()
    with pytest.raises(DatasetError, match=str(target)):
        _dm(target, tmp_path)


def test_single_file_split_in_time(tmp_path: Path, write_wav) -> None:
    write_wav(tmp_path / "one" / "only.wav", duration_s=5.0)
    with pytest.warns(DatasetWarning, match="single usable file"):
        dm = _dm(tmp_path / "one", tmp_path, val_fraction=0.4)
    assert dm.train_chunks.shape[0] == 3 and dm.val_chunks.shape[0] == 2
    train_starts = [s for _, s in dm.train_sources]
    val_starts = [s for _, s in dm.val_sources]
    assert max(train_starts) + dm.chunk_frames <= min(val_starts)  # no overlap in time
    # augmented training windows never read validation frames: zero the val region and check
    batcher = dm.train_dataloader().collate_fn
    batcher.store[:, min(val_starts) :] = float("nan")
    assert torch.isfinite(batcher(list(range(3)) * 20)).all()


def test_single_short_file_is_train_and_val(tmp_path: Path, write_wav) -> None:
    write_wav(tmp_path / "tiny" / "blip.wav", duration_s=0.1)
    with pytest.warns(DatasetWarning, match="single usable chunk"):
        dm = _dm(tmp_path / "tiny", tmp_path, batch_size=32, augmentation_expansion=4)
    assert dm.train_chunks.shape == dm.val_chunks.shape == (1, 1, 128, 94)
    torch.testing.assert_close(dm.train_chunks, dm.val_chunks)
    batches = list(dm.train_dataloader())
    assert len(batches) == 1 and batches[0].shape == (4, 1, 128, 94)
    assert dm.init_batch(16).shape == (1, 1, 128, 94)
    assert dm.preview_chunks(4).shape == (1, 1, 128, 94)


def test_ten_minute_file(tmp_path: Path, write_wav) -> None:
    t = np.arange(8000 * 600) / 8000
    data = (0.02 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    write_wav(tmp_path / "long" / "ten_min.wav", data=data, sample_rate=8000)
    write_wav(tmp_path / "long" / "short.wav", duration_s=1.0)
    dm = _dm(tmp_path / "long", tmp_path, val_fraction=0.5, seed=0)
    total = dm.train_chunks.shape[0] + dm.val_chunks.shape[0]
    assert 595 <= total <= 600
    next(iter(dm.train_dataloader()))


def test_max_files_and_synth(tmp_path: Path, ten_files: Path) -> None:
    dm = _dm(ten_files, tmp_path, max_files=4)
    assert dm.files == sorted(ten_files.glob("*.wav"))[:4]
    synth = MelDataModule(
        path=None, synth={"num_files": 4, "seed": 1}, cache_dir=str(tmp_path / "c2")
    )
    synth.prepare_data()
    synth.setup()
    folder = synth.dataset_path()
    assert folder.parent == tmp_path / "c2" and folder.name.startswith("synth-")
    assert synth.file_count == 4 and len(synth.val_files) == 1
    assert synth.train_chunks.shape[1:] == (1, 128, 94)


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        MelDataModule(path=None)
    with pytest.raises(ValueError):
        MelDataModule(path=str(tmp_path), on_bad_file="ignore")
    with pytest.raises(ValueError):
        MelDataModule(path=str(tmp_path), val_fraction=1.0)


def test_loading_restores_torch_threads(ten_files: Path, tmp_path: Path) -> None:
    before = torch.get_num_threads()
    _dm(ten_files, tmp_path)
    assert torch.get_num_threads() == before
