"""The one loading function of training and ``evaluate``: cached features and chunk starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rvqvae.data.cache import FeatureCache
from rvqvae.data.chunks import file_to_chunks, slice_chunks
from rvqvae.data.loading import load_chunk_starts
from rvqvae.data.mel import MelSettings


def test_usable_and_bad_files_in_order_match_direct_chunking(
    audio_folder: Path, tmp_path: Path
) -> None:
    files = sorted(audio_folder.glob("*.wav"))
    broken = audio_folder / "broken.wav"
    broken.write_bytes(b"not audio" * 40)
    files.insert(2, broken)
    s = MelSettings()
    c = s.chunk_frames(1.0)
    cache = FeatureCache(tmp_path / "cache", s, True)
    usable, bad = load_chunk_starts(files, cache, c, c, -60.0)
    assert [f for f, _, _ in usable] == [f for f in files if f != broken]
    assert [f for f, _ in bad] == [broken] and "cannot be decoded" in bad[0][1]
    for f, feats, starts in usable:  # same chunks as the uncached one-file path
        np.testing.assert_array_equal(slice_chunks(feats.mel, starts, c), file_to_chunks(f, s))
