"""Synth dataset: byte-identical for a seed, skip when complete, musical (not noise)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
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


def test_second_call_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    """What the old timing check protected: a complete dataset costs no rendering or writing."""
    out = generate_synth_dataset(tmp_path / "s", num_files=8, seed=0)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise AssertionError("rendered or wrote a file of a complete dataset")

    monkeypatch.setattr(synth, "_render_file", boom)
    monkeypatch.setattr(sf, "write", boom)
    generate_synth_dataset(tmp_path / "s", num_files=8, seed=0)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


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


_WRITE_WITH_UMASK_027 = """
import os, sys
from pathlib import Path
os.umask(0o027)
from rvqvae.atomic import atomic_write_bytes
from rvqvae.data.synth import generate_synth_dataset
out = Path(sys.argv[1])
generate_synth_dataset(out / "synth", num_files=1, seed=3)
atomic_write_bytes(out / "blob.bin", b"x")
"""


def test_generated_files_get_normal_permissions(tmp_path: Path) -> None:
    """Atomic writes go through mkstemp (0o600); the results get what umask 027 gives: 0o640."""
    subprocess.run([sys.executable, "-c", _WRITE_WITH_UMASK_027, str(tmp_path)], check=True)
    written = [*(tmp_path / "synth").iterdir(), tmp_path / "blob.bin"]
    assert len(written) == 3  # one WAV, the manifest, the blob
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o640, path
