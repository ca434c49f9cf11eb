"""Fault 3: a cache entry that loads but holds NaN or mismatched arrays is recomputed, not used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rvqvae.data.cache import FeatureCache
from rvqvae.data.datamodule import MelDataModule
from rvqvae.data.mel import MelSettings


def _rewrite(entry: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Rewrite a real entry as a valid npz whose arrays ``change`` has edited in place."""
    with np.load(entry, allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    change(arrays)
    with entry.open("wb") as fh:
        np.savez(fh, **arrays)


def _nan_mel(a: dict[str, np.ndarray]) -> None:
    a["mel"] = a["mel"].copy()
    a["mel"][3, 5] = np.nan


def _inf_power(a: dict[str, np.ndarray]) -> None:
    a["frame_power"] = a["frame_power"].copy()
    a["frame_power"][0] = np.inf


def _float64_mel(a: dict[str, np.ndarray]) -> None:
    a["mel"] = a["mel"].astype(np.float64)


def _short_mel(a: dict[str, np.ndarray]) -> None:  # mel and power agree, the sample count not
    a["mel"], a["frame_power"] = a["mel"][:, :-4], a["frame_power"][:-4]


def _more_samples(a: dict[str, np.ndarray]) -> None:
    a["num_samples"] = np.array(int(a["num_samples"]) * 2, dtype=np.int64)


def _float_samples(a: dict[str, np.ndarray]) -> None:
    a["num_samples"] = np.array(float(a["num_samples"]))


@pytest.mark.parametrize(
    "poison", [_nan_mel, _inf_power, _float64_mel, _short_mel, _more_samples, _float_samples]
)
def test_poisoned_entry_is_recomputed(tmp_path: Path, write_wav, poison) -> None:
    wav = write_wav(tmp_path / "a.wav", duration_s=1.0)
    first = FeatureCache(tmp_path / "cache", MelSettings()).get(wav)
    fc = FeatureCache(tmp_path / "cache", MelSettings())
    entry = fc.entry_path(wav)
    _rewrite(entry, poison)
    again = fc.get(wav)
    assert fc.stats == {"hits": 0, "misses": 1, "corrupt": 1}
    assert np.isfinite(again.mel).all() and again.mel.dtype == np.float32
    np.testing.assert_array_equal(again.mel, first.mel)
    np.testing.assert_array_equal(again.frame_power, first.frame_power)
    assert again.num_samples == 48000
    fresh = FeatureCache(tmp_path / "cache", MelSettings())  # the rewritten entry is good
    np.testing.assert_array_equal(fresh.get(wav).mel, first.mel)
    assert fresh.stats == {"hits": 1, "misses": 0, "corrupt": 0}


def test_entry_of_other_mel_size_is_not_used(tmp_path: Path, write_wav) -> None:
    """An entry moved under another parameter set's key (n_mels 64 vs 128) is recomputed."""
    wav = write_wav(tmp_path / "a.wav", duration_s=1.0)
    small = FeatureCache(tmp_path / "cache", MelSettings(n_mels=64))
    small.get(wav)
    big = FeatureCache(tmp_path / "cache", MelSettings())
    big_entry = big.entry_path(wav)
    big_entry.parent.mkdir(parents=True, exist_ok=True)
    big_entry.write_bytes(small.entry_path(wav).read_bytes())
    assert big.get(wav).mel.shape[0] == 128
    assert big.stats["corrupt"] == 1


def test_training_data_never_holds_a_poisoned_entry(audio_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    MelDataModule(path=str(audio_folder), cache_dir=str(cache)).setup()
    fc = FeatureCache(cache, MelSettings())
    for wav in sorted(audio_folder.glob("*.wav")):
        _rewrite(fc.entry_path(wav), _nan_mel)
    dm = MelDataModule(path=str(audio_folder), cache_dir=str(cache))
    dm.setup()
    assert dm.cache_stats == {"hits": 0, "misses": 6, "corrupt": 6}
    assert np.isfinite(dm.train_chunks.numpy()).all()
    assert np.isfinite(dm.val_chunks.numpy()).all()
