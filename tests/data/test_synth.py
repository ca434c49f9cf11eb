"""Synth dataset: byte-identical for a seed, skip when complete, musical (not noise)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvqvae.data import synth
from rvqvae.data.discovery import count_audio_files
from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.data.synth import generate_synth_dataset


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.wav"))
    }


def test_byte_identical_across_generations(tmp_path: Path) -> None:
    a = generate_synth_dataset(tmp_path / "a", num_files=6, seed=7)
    b = generate_synth_dataset(tmp_path / "b", num_files=6, seed=7)
    c = generate_synth_dataset(tmp_path / "c", num_files=6, seed=8)
    assert len(_hashes(a)) == 6
    assert _hashes(a) == _hashes(b)
    assert set(_hashes(a).values()).isdisjoint(_hashes(c).values())
    info = sf.info(a / "synth_000.wav")
    assert info.samplerate == 48000 and info.subtype == "PCM_16" and info.channels == 1
    assert 2.0 <= info.duration <= 4.0
    assert count_audio_files(a) == 6  # the manifest is not audio


def test_complete_dataset_is_not_regenerated(tmp_path: Path, monkeypatch) -> None:
    out = generate_synth_dataset(tmp_path / "s", num_files=3, seed=1)
    before = _hashes(out)

    def boom(*args, **kwargs):
        raise AssertionError("regenerated a complete dataset")

    monkeypatch.setattr(synth, "_render_file", boom)
    assert generate_synth_dataset(tmp_path / "s", num_files=3, seed=1) == out
    monkeypatch.undo()

    (out / "synth_001.wav").write_bytes(b"damaged")  # damaged file -> regenerate
    generate_synth_dataset(tmp_path / "s", num_files=3, seed=1)
    assert _hashes(out) == before
    generate_synth_dataset(tmp_path / "s", num_files=2, seed=1)  # fewer files: stale removed
    assert sorted(_hashes(out)) == ["synth_000.wav", "synth_001.wav"]


def test_generation_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_synth_dataset(tmp_path / "s", num_files=8, seed=0)
    assert time.perf_counter() - start < 5.0  # ~0.25 s on 2 cores; loose for loaded CI


def test_content_is_varied_and_tonal(tmp_path: Path) -> None:
    out = generate_synth_dataset(tmp_path / "s", num_files=8, seed=0)
    s = MelSettings()
    profiles, flatness = [], []
    for p in sorted(out.glob("*.wav")):
        x, sr = sf.read(p, dtype="float32")
        assert sr == 48000 and np.abs(x).max() > 0.3
        mel = audio_to_mel(x, s)
        profiles.append(mel.mean(axis=1))
        power = np.expm1(mel) + 1e-10
        flat = np.exp(np.log(power).mean(axis=0)) / power.mean(axis=0)  # per frame
        flatness.append(np.median(flat))
        assert (mel.max(axis=0) > 0.5).mean() > 0.3  # mostly not silent
    # white noise has a mel spectral flatness around 0.5-0.9; tonal music is far lower
    assert np.median(flatness) < 0.1
    # files differ: pairwise distances of their average spectra are not all tiny
    prof = np.stack(profiles)
    dists = np.abs(prof[:, None] - prof[None]).mean(axis=-1)
    assert np.median(dists[np.triu_indices(len(prof), 1)]) > 0.1


def test_invalid_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_synth_dataset(tmp_path / "x", num_files=0)
    with pytest.raises(ValueError):
        generate_synth_dataset(tmp_path / "x", min_duration_s=3.0, max_duration_s=2.0)


def test_generated_files_get_normal_permissions(tmp_path) -> None:
    """Atomic writes go through mkstemp (0o600); the results get the umask's usual mode."""
    from rvqvae.data.cache import atomic_write_bytes, default_file_mode
    from rvqvae.data.synth import generate_synth_dataset

    out = generate_synth_dataset(tmp_path / "synth", num_files=1, seed=3)
    atomic_write_bytes(tmp_path / "blob.bin", b"x")
    for path in [*out.iterdir(), tmp_path / "blob.bin"]:
        assert path.stat().st_mode & 0o777 == default_file_mode(), path
