"""Loading a list of audio files as the model's chunks: cached features and usable chunk starts
per file, in a few threads; shared by the datamodule (training) and ``evaluate``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from rvqvae.data.cache import FeatureCache
from rvqvae.data.chunks import FileFeatures, chunk_starts
from rvqvae.data.io import BadAudioFile
from rvqvae.progress import progress

LOAD_THREADS = max(1, min(4, os.cpu_count() or 1))

Usable = tuple[Path, FileFeatures, np.ndarray]  # (file, features, chunk start frames)
Bad = tuple[Path, str]  # (file, reason)


class DatasetWarning(UserWarning):
    """A file was skipped or the dataset is too small for a normal split."""


def load_chunk_starts(
    files: Iterable[Path],
    cache: FeatureCache,
    chunk_frames: int,
    hop_frames: int,
    silence_threshold_db: float,
) -> tuple[list[Usable], list[Bad]]:
    """Features (from ``cache``, decoding on a miss) and usable chunk starts of every file, in
    file order: ``(usable, bad)`` with one ``(file, reason)`` per unusable file.

    See :func:`~rvqvae.data.chunks.chunk_starts` for the padding and silence rules.
    """

    def load_one(f: Path) -> Usable | Bad:
        try:
            feats = cache.get(f)
            starts = chunk_starts(feats, chunk_frames, hop_frames, silence_threshold_db, f)
        except BadAudioFile as err:
            return f, err.reason
        return f, feats, starts

    # Cache misses decode in LOAD_THREADS threads, each with single-threaded torch ops:
    # per-file STFTs are small, and 1 intra-op thread per file is several times faster
    # than 2 when another process competes for the cores.
    threads = torch.get_num_threads()  # set_num_threads is process-wide: restore it
    try:
        with ThreadPoolExecutor(
            LOAD_THREADS, initializer=torch.set_num_threads, initargs=(1,)
        ) as ex:
            files = list(files)
            # a bar on a terminal while a cold cache decodes (training and evaluate both load here)
            results = list(progress(ex.map(load_one, files), "loading audio", total=len(files)))
    finally:
        torch.set_num_threads(threads)
    usable = [r for r in results if len(r) == 3]
    bad = [r for r in results if len(r) == 2]
    return usable, bad  # type: ignore[return-value]


def warn_skipped(bad: Iterable[Bad], stacklevel: int = 2) -> None:
    """One ``skipping FILE: reason`` warning per unusable file."""
    for path, reason in bad:
        warnings.warn(f"skipping {path}: {reason}", DatasetWarning, stacklevel=stacklevel + 1)
