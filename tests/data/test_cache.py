"""Feature cache: reuse without decoding, invalidation, atomic writes, corrupt entries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rvqvae.data.chunks as audio_mod
from rvqvae.data import cache as cache_mod
from rvqvae.data.cache import FeatureCache, default_cache_dir
from rvqvae.data.datamodule import MelDataModule
from rvqvae.data.io import BadAudioFile
from rvqvae.data.mel import MelSettings


@pytest.fixture
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every call of the decode entry point ``load_audio`` (as ``analyse_file`` sees it)."""
    calls: list[Path] = []
    real = audio_mod.load_audio

    def counting(path, *args, **kwargs):
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(audio_mod, "load_audio", counting)
    return calls


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("decoded although the cache should have been used")

    monkeypatch.setattr(audio_mod, "load_audio", boom)


def _module(root: Path, cache: Path, **kwargs) -> MelDataModule:
    dm = MelDataModule(path=str(root), cache_dir=str(cache), **kwargs)
    dm.setup()
    return dm


def test_second_run_does_not_decode(audio_folder: Path, tmp_path: Path, monkeypatch) -> None:
    (audio_folder / "broken.wav").write_bytes(b"not audio at all" * 10)  # verdict is cached too
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match="broken.wav"):
        first = _module(audio_folder, cache)
    assert first.cache_stats["misses"] == 7
    _forbid_decoding(monkeypatch)
    with pytest.warns(UserWarning, match="broken.wav"):
        second = _module(audio_folder, cache)
    assert second.cache_stats == {"hits": 7, "misses": 0, "corrupt": 0}
    assert second.bad_files == first.bad_files
    assert np.array_equal(second.train_chunks.numpy(), first.train_chunks.numpy())
    assert np.array_equal(second.val_chunks.numpy(), first.val_chunks.numpy())


def test_chunking_params_reuse_the_cache(audio_folder: Path, tmp_path: Path, monkeypatch) -> None:
    _module(audio_folder, tmp_path / "c")
    _forbid_decoding(monkeypatch)
    dm = _module(audio_folder, tmp_path / "c", chunk_hop_s=0.5, silence_threshold_db=-40.0)
    assert dm.train_chunks.shape[0] > 0


def test_changed_file_is_recomputed_alone(
    audio_folder: Path, tmp_path: Path, write_wav, count_decodes: list[Path]
) -> None:
    cache = tmp_path / "cache"
    _module(audio_folder, cache)
    assert len(count_decodes) == 6
    count_decodes.clear()
    changed = write_wav(audio_folder / "tone_3.wav", duration_s=2.0, freq=1234.0)
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse-mtime filesystems
    dm = _module(audio_folder, cache)
    assert count_decodes == [changed]
    assert dm.cache_stats["misses"] == 1 and dm.cache_stats["hits"] == 5


def test_mel_parameter_change_recomputes(
    audio_folder: Path, tmp_path: Path, count_decodes: list[Path]
) -> None:
    cache = tmp_path / "cache"
    _module(audio_folder, cache)
    count_decodes.clear()
    dm = _module(audio_folder, cache, n_mels=64)
    assert len(count_decodes) == 6 and dm.train_chunks.shape[2] == 64
    count_decodes.clear()
    _module(audio_folder, cache, normalize_peak=False)
    assert len(count_decodes) == 6


def test_corrupt_entry_is_recomputed(tmp_path: Path, write_wav, count_decodes) -> None:
    wav = write_wav(tmp_path / "a.wav", duration_s=1.0)
    fc = FeatureCache(tmp_path / "cache", MelSettings())
    first = fc.get(wav)
    entry = fc.entry_path(wav)
    data = entry.read_bytes()
    for broken in (data[: len(data) // 2], b"", b"garbage" * 50):
        entry.write_bytes(broken)  # as if a non-atomic writer had been killed half-way
        fc2 = FeatureCache(tmp_path / "cache", MelSettings())
        again = fc2.get(wav)
        assert fc2.stats == {"hits": 0, "misses": 1, "corrupt": 1}
        np.testing.assert_array_equal(again.mel, first.mel)
        assert entry.read_bytes() == data  # rewritten whole
    assert len(count_decodes) == 4


def test_killed_writer_leaves_no_entry(
    tmp_path: Path, write_wav, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = write_wav(tmp_path / "a.wav", duration_s=1.0)
    fc = FeatureCache(tmp_path / "cache", MelSettings())
    entry = fc.entry_path(wav)
    entry.parent.mkdir(parents=True)
    (entry.parent / f".{entry.name}.stale.tmp").write_bytes(b"PK\x03\x04half")  # earlier crash

    def killed(src, dst):
        raise KeyboardInterrupt  # the process dies between writing the temp file and renaming

    monkeypatch.setattr(cache_mod.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        fc.get(wav)
    monkeypatch.undo()
    assert not entry.exists()
    assert [p.name for p in entry.parent.iterdir()] == [f".{entry.name}.stale.tmp"]
    fc2 = FeatureCache(tmp_path / "cache", MelSettings())
    fc2.get(wav)
    assert fc2.stats == {"hits": 0, "misses": 1, "corrupt": 0} and entry.exists()


def test_bad_file_verdict_is_cached(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    fc = FeatureCache(tmp_path / "cache", MelSettings())
    with pytest.raises(BadAudioFile, match="0 bytes"):
        fc.get(bad)
    _forbid_decoding(monkeypatch)
    with pytest.raises(BadAudioFile, match="0 bytes") as info:
        FeatureCache(tmp_path / "cache", MelSettings()).get(bad)
    assert info.value.path == bad


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RVQVAE_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert default_cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("RVQVAE_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "rvqvae"
