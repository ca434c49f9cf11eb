"""In-memory chunk stores built from a train/validation split: the frames-major training store
that :class:`~rvqvae.data.augment.ChunkBatcher` windows and augments, and the validation chunks.

The training store holds each training file's mel followed by ``chunk_frames`` zero frames, so a
window (a chunk start shifted by augmentation) never reads into the next file; it is frames-major
``[S, n_mels]`` (a window reads whole contiguous frames) and handed out as its ``[n_mels, S]``
view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rvqvae.data.augment import AugmentConfig, ChunkBatcher
from rvqvae.data.loading import Usable


@dataclass
class TrainStore:
    """The training files' chunks: ``batcher`` (index batches -> augmented mel batches),
    ``chunks`` ``[N, 1, n_mels, chunk_frames]`` (un-augmented) and ``sources`` ``[(file, start
    frame)]`` per chunk."""

    batcher: ChunkBatcher
    chunks: Tensor
    sources: list[tuple[Path, int]]


def build_train_store(
    usable: list[Usable],
    train_items: list[tuple[int, np.ndarray, int]],
    chunk_frames: int,
    augment: bool,
    seed: int,
    augment_config: AugmentConfig,
) -> TrainStore:
    """The training store of ``train_items`` (``(index into usable, chunk starts, read limit)``
    per file, from :func:`~rvqvae.data.split.split_train_val`)."""
    c = chunk_frames
    segments, starts_l, lo_l, max_l, end_l = [], [], [], [], []
    sources: list[tuple[Path, int]] = []
    offset = 0
    for i, starts, read_limit in train_items:
        path, feats, _ = usable[i]
        real_end = min(feats.mel.shape[1], read_limit)
        segments.append(feats.mel[:, :real_end])
        segments.append(np.zeros((feats.mel.shape[0], c), np.float32))
        starts_l.append(starts + offset)
        lo_l.append(np.full(len(starts), offset))
        max_l.append(np.full(len(starts), offset + max(0, real_end - c)))
        end_l.append(np.full(len(starts), offset + min(read_limit, real_end + c)))
        sources += [(path, int(s)) for s in starts]
        offset += real_end + c
    store = torch.from_numpy(np.ascontiguousarray(np.concatenate(segments, axis=1).T)).T

    def cat(parts: list[np.ndarray]) -> Tensor:
        return torch.from_numpy(np.concatenate(parts).astype(np.int64))

    batcher = ChunkBatcher(
        store, cat(starts_l), cat(lo_l), cat(max_l), cat(end_l), c, augment, seed, augment_config
    )
    # [N, 1, n_mels, T] (windows never run past a file's zero gap)
    chunks = torch.stack([store[None, :, s : s + c] for s in batcher.starts.tolist()])
    batcher.plain = chunks
    return TrainStore(batcher, chunks, sources)


def build_val_chunks(
    usable: list[Usable], val_items: list[tuple[int, np.ndarray]], chunk_frames: int
) -> tuple[Tensor, list[tuple[Path, int]]]:
    """Validation chunks ``[N, 1, n_mels, chunk_frames]`` (each file zero-padded by one chunk at
    its end) and their ``[(file, start frame)]``."""
    parts, sources = [], []
    for i, starts in val_items:
        path, feats, _ = usable[i]
        padded = np.pad(feats.mel, ((0, 0), (0, chunk_frames)))
        parts += [padded[None, None, :, s : s + chunk_frames] for s in starts]
        sources += [(path, int(s)) for s in starts]
    return torch.from_numpy(np.concatenate(parts, axis=0)), sources
