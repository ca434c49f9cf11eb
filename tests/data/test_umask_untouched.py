"""Atomic writes of the synth set and the feature cache never change the process-wide umask.

Setting the umask to 0 and back (to read it) races with ``mkdir`` in other threads, which then
creates world-writable folders; the writers must read it without changing it. The race
itself is too rare to catch reliably, so the test forbids the call.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rvqvae.data.cache import FeatureCache
from rvqvae.data.mel import MelSettings
from rvqvae.data.synth import generate_synth_dataset


def test_writers_never_call_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask called: it changes the umask of every thread")

    monkeypatch.setattr(os, "umask", forbidden)
    out = generate_synth_dataset(tmp_path / "synth", num_files=2, seed=5)
    cache = FeatureCache(tmp_path / "cache", MelSettings())
    cache.get(out / "synth_000.wav")
    assert cache.stats["misses"] == 1 and cache.entry_path(out / "synth_000.wav").is_file()
