"""Fault 7: a damaged synth WAV is regenerated alone, and prune removes orphaned cache entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvqvae.data import cache as cache_mod
from rvqvae.data import synth
from rvqvae.data.cache import FeatureCache, prune
from rvqvae.data.mel import MelSettings
from rvqvae.data.synth import generate_synth_dataset

SMALL = {"num_files": 4, "seed": 2, "min_duration_s": 0.5, "max_duration_s": 1.0}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the files rendered (``synth._render_file`` calls)."""
    calls: list[int] = []
    real = synth._render_file

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "_render_file", counting)
    return calls


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.wav"))}


def _entries(cache: Path) -> set[Path]:
    return set((cache / "features").glob("*/*.npz"))


def test_damaged_file_is_regenerated_alone(tmp_path: Path, renders: list[int]) -> None:
    out = generate_synth_dataset(tmp_path / "s", **SMALL)
    original = (out / "synth_002.wav").read_bytes()
    before = _mtimes(out)
    fc = FeatureCache(tmp_path / "cache", MelSettings())
    for wav in sorted(out.glob("*.wav")):
        fc.get(wav)
    renders.clear()

    (out / "synth_002.wav").write_bytes(original[:1000])  # truncated
    generate_synth_dataset(tmp_path / "s", **SMALL)
    assert len(renders) == 1
    after = _mtimes(out)
    assert (out / "synth_002.wav").read_bytes() == original
    assert {n: t for n, t in after.items() if n != "synth_002.wav"} == {
        n: t for n, t in before.items() if n != "synth_002.wav"
    }

    fc2 = FeatureCache(tmp_path / "cache", MelSettings())
    for wav in sorted(out.glob("*.wav")):
        fc2.get(wav)
    assert fc2.stats == {"hits": 3, "misses": 1, "corrupt": 0}

    (out / "synth_000.wav").unlink()  # missing -> regenerated alone, too
    renders.clear()
    generate_synth_dataset(tmp_path / "s", **SMALL)
    assert len(renders) == 1 and (out / "synth_000.wav").is_file()


def test_fewer_files_reuse_the_rest(tmp_path: Path, renders: list[int]) -> None:
    out = generate_synth_dataset(tmp_path / "s", **SMALL)
    before = _mtimes(out)
    renders.clear()
    generate_synth_dataset(tmp_path / "s", **{**SMALL, "num_files": 2})
    assert renders == [] and _mtimes(out) == {
        n: before[n] for n in ("synth_000.wav", "synth_001.wav")
    }
    generate_synth_dataset(tmp_path / "s", **{**SMALL, "seed": 3})  # another seed: all new
    assert len(renders) == 4


def test_prune_removes_orphaned_entries_only(tmp_path: Path, write_wav, capsys) -> None:
    cache = tmp_path / "cache"
    out = generate_synth_dataset(tmp_path / "s", **SMALL)
    other = write_wav(tmp_path / "elsewhere" / "tone.wav", duration_s=0.5)
    wavs = sorted(out.glob("*.wav"))
    for settings in (MelSettings(), MelSettings(n_mels=64)):  # two parameter sets
        fc = FeatureCache(cache, settings)
        for wav in [*wavs, other]:
            fc.get(wav)
    orphans = {
        FeatureCache(cache, s).entry_path(wavs[1]) for s in (MelSettings(), MelSettings(n_mels=64))
    }
    orphans |= {
        FeatureCache(cache, s).entry_path(wavs[3]) for s in (MelSettings(), MelSettings(n_mels=64))
    }
    legacy = cache / "features" / "ab" / ("ab" + "0" * 62 + ".npz")  # written before sources
    legacy.parent.mkdir(parents=True, exist_ok=True)
    np.savez(legacy, mel=np.zeros((128, 3), np.float32))
    all_entries = _entries(cache)
    assert len(all_entries) == 11 and orphans <= all_entries

    wavs[1].write_bytes(wavs[1].read_bytes()[:2000])  # damaged, then repaired: new mtime
    wavs[3].unlink()
    generate_synth_dataset(tmp_path / "s", **{**SMALL, "num_files": 3})  # synth_003 is gone

    assert prune(cache, dry_run=True) == {"removed": 4, "kept": 6, "unknown": 1, "temp": 0}
    assert _entries(cache) == all_entries
    assert cache_mod.main(["--prune", "--cache-dir", str(cache)]) == 0
    assert "removed 4 entries" in capsys.readouterr().out
    assert _entries(cache) == all_entries - orphans
    for settings in (MelSettings(), MelSettings(n_mels=64)):  # nothing still needed was removed
        fc = FeatureCache(cache, settings)
        for wav in [out / "synth_000.wav", out / "synth_002.wav", other]:
            fc.get(wav)
        assert fc.stats == {"hits": 3, "misses": 0, "corrupt": 0}
