"""Train/validation split of the loaded files.

By file (deterministic for ``seed``); ``val = max(1, round(val_fraction * n_files))``,
keeping at least one training file. A single file is split in time instead (the last
``val_fraction`` of its chunks; training chunks never overlap them), and a single chunk is used
for both training and validation. Both cases warn.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from rvqvae.data.loading import DatasetWarning, Usable

TrainItem = tuple[int, np.ndarray, int]  # (file index, chunk starts, read limit in frames)
ValItem = tuple[int, np.ndarray]  # (file index, chunk starts)


def split_train_val(
    usable: list[Usable], val_fraction: float, seed: int, chunk_frames: int, root: Path
) -> tuple[list[TrainItem], list[ValItem]]:
    """Training and validation chunks of ``usable`` files (see the module docstring); a
    training chunk window may read frames below its read limit (time split: never the
    validation part)."""
    n = len(usable)
    c = chunk_frames
    train_items: list[TrainItem] = []
    val_items: list[ValItem] = []
    if n == 1:
        _, feats, starts = usable[0]
        n_frames = feats.mel.shape[1]
        if len(starts) == 1:
            warnings.warn(
                f"dataset {root} has a single usable chunk: it is used for both training "
                "and validation (validation loss is not a held-out measure)",
                DatasetWarning,
                stacklevel=5,
            )
            train_items.append((0, starts, n_frames + c))
            val_items.append((0, starts))
        else:
            n_val = min(len(starts) - 1, max(1, round(val_fraction * len(starts))))
            split = int(starts[len(starts) - n_val])
            train_starts = starts[starts + c <= split]
            if len(train_starts) == 0:
                train_starts = starts[:1]
            warnings.warn(
                f"dataset {root} has a single usable file: split in time, the last {n_val} "
                f"of {len(starts)} chunks are validation",
                DatasetWarning,
                stacklevel=5,
            )
            train_items.append((0, train_starts, split))
            val_items.append((0, starts[starts >= split]))
    else:
        n_val = min(n - 1, max(1, round(val_fraction * n)))
        perm = np.random.default_rng(seed).permutation(n)
        val_set = set(perm[:n_val].tolist())
        for i, (_, feats, starts) in enumerate(usable):
            if i in val_set:
                val_items.append((i, starts))
            else:
                train_items.append((i, starts, feats.mel.shape[1] + c))
    return train_items, val_items
