"""The prior's data: a VQ-VAE run's own files and split, encoded to whole-file code grids.

:class:`PriorDataModule` rebuilds the VQ-VAE run's dataset from the config stored in its
checkpoint (same files, same seed, same train/validation split), reads each file's whole log-mel
from the mel cache, and encodes it with the frozen VQ-VAE in one pass into a grid
``[rows, cols, levels]`` (:func:`rvqvae.codec.grid.encode_grid`). Grids are cached on disk
(``<cache>/codes/``, :mod:`rvqvae.prior.grids`) under a key of the VQ-VAE's weight hash and the
mel cache's key of the file (path, size, mtime, every mel parameter), written atomically.

Training batches are windows of ``context_columns`` columns ``[B, C, S]`` (:class:`TrainWindows`):
``windows=within_files`` cuts each from one file (a file that fits is taken whole, from its
start, padded and masked), like validation and sampling see a file; ``across_files`` cuts them
from the files laid end to end, so windows hold file ends, jumps and new starts. A window
starts at a file start with probability ``file_start_fraction``, else anywhere. Validation
scores every column of every validation file once, with windows that slide like the sampler's
(:func:`score_windows`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from rvqvae.codec.grid import encode_grid
from rvqvae.codec.model import Codec
from rvqvae.prior.grids import CodeCache, rebuild_split
from rvqvae.prior.layout import GridLayout

log = logging.getLogger(__name__)


def score_windows(n_columns: int, context: int) -> list[tuple[int, int]]:
    """``(start, first scored column)`` of the windows that score ``n_columns`` columns once.

    The first window scores its columns from 0; later windows start a quarter context apart (as
    the sampler slides) and score only their last quarter, so every scored column sees at least
    three quarters of a context of history.
    """
    if n_columns <= context:
        return [(0, 0)]
    stride = max(1, context // 4)
    out = [(0, 0)]
    scored = context
    while scored < n_columns:
        start = min(scored + stride, n_columns) - context
        out.append((start, scored))
        scored = start + context
    return out


def augmented_grids(codec: Codec, mels: list[np.ndarray], copies: int, seed: int) -> list[Tensor]:
    """Code grids of ``copies`` augmented versions of each whole mel ``[n_mels, F]``: the
    training augmentation of the RVQ-VAE (pitch shift, gain, noise floor; no time stretch, so
    the length stays), deterministic for ``seed``."""
    from rvqvae.data.augment import AugmentConfig, ChunkBatcher

    config = AugmentConfig(max_offset_frames=0, stretch=0.0, p_stretch=0.0)
    grids: list[Tensor] = []
    for i, mel in enumerate(mels):
        store = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
        frames = store.shape[1]
        zero, end = torch.zeros(1, dtype=torch.long), torch.full((1,), frames)
        batcher = ChunkBatcher(
            store, zero, zero, zero, end, frames, True, seed * 100_003 + i, config
        )
        versions = batcher.augment_batch(torch.zeros(copies, dtype=torch.long))[:, 0]
        grids += list(encode_grid(codec.model, versions))
    return grids


WINDOW_MODES = ("within_files", "across_files")


class TrainWindows(Dataset):
    """Random training windows ``[C, S]`` with the mask of their real columns ``[C]``.

    ``within_files``: each window is cut from one file (chosen by length), starting at the
    file's start with probability ``file_start_fraction`` (always when the file fits), and padded
    after the file's end (masked out of the loss). ``across_files``: cut from the files laid end
    to end in a new order each epoch, so windows span file ends and starts.
    """

    def __init__(
        self,
        columns: list[Tensor],
        context: int,
        count: int,
        file_start_fraction: float,
        seed: int,
        mode: str = "within_files",
    ) -> None:
        if mode not in WINDOW_MODES:
            raise ValueError(
                f"dataset.windows must be one of {', '.join(WINDOW_MODES)}, got {mode!r}"
            )
        self.files = columns
        self.context = context
        self.count = max(1, int(count))
        self.file_start_fraction = float(file_start_fraction)
        self.seed = int(seed)
        self.mode = mode
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's windows (and, across files, this epoch's file order)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self.mode == "within_files":
            lengths = torch.tensor([f.shape[0] for f in self.files], dtype=torch.float64)
            self.picks = torch.multinomial(lengths, self.count, True, generator=g)
            room = (lengths[self.picks] - self.context).clamp(min=0)
            at_file = torch.rand(self.count, generator=g) < self.file_start_fraction
            anywhere = (
                torch.rand(self.count, generator=g, dtype=torch.float64) * (room + 1)
            ).long()
            self.starts = torch.where(at_file, torch.zeros_like(anywhere), anywhere)
            return
        order = torch.randperm(len(self.files), generator=g).tolist()
        stream = torch.cat([self.files[i] for i in order])  # [N, S]
        lengths = torch.tensor([self.files[i].shape[0] for i in order])
        file_starts = torch.cumsum(lengths, 0) - lengths
        repeats = math.ceil((stream.shape[0] + self.context) / stream.shape[0])
        self.stream = stream.repeat(repeats, 1)  # windows may wrap around to the first files
        at_file = torch.rand(self.count, generator=g) < self.file_start_fraction
        pick = file_starts[torch.randint(len(order), (self.count,), generator=g)]
        anywhere = torch.randint(stream.shape[0], (self.count,), generator=g)
        self.starts = torch.where(at_file, pick, anywhere)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        s = int(self.starts[i])
        if self.mode == "across_files":
            return self.stream[s : s + self.context], torch.ones(self.context, dtype=torch.bool)
        part = self.files[int(self.picks[i])][s : s + self.context]
        window = part.new_zeros(self.context, part.shape[1])
        window[: part.shape[0]] = part
        mask = torch.zeros(self.context, dtype=torch.bool)
        mask[: part.shape[0]] = True
        return window, mask


def trim_batch(items: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Collate windows and drop the trailing columns no window of the batch uses (a causal
    model's earlier logits do not depend on them)."""
    columns = torch.stack([w for w, _ in items])
    mask = torch.stack([m for _, m in items])
    used = int(mask.any(dim=0).nonzero().max()) + 1 if mask.any() else 1
    return columns[:, :used], mask[:, :used]


class ScoreWindows(Dataset):
    """Validation windows ``[C, S]`` (zero padded) with the mask of the columns they score."""

    def __init__(self, columns: list[Tensor], context: int) -> None:
        self.items: list[tuple[Tensor, Tensor]] = []
        for file_columns in columns:
            n, s = file_columns.shape
            for start, first in score_windows(n, context):
                window = torch.zeros(context, s, dtype=torch.long)
                part = file_columns[start : start + context]
                window[: part.shape[0]] = part
                mask = torch.zeros(context, dtype=torch.bool)
                mask[first - start : part.shape[0]] = True
                self.items.append((window, mask))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.items[i]


def of_kind(files: list[Path], kind: str) -> list[Path]:
    """The files that lie in a folder named ``kind`` (at any depth: ``music/``, ``speech/``)."""
    return [f for f in files if kind in Path(f).parent.parts]


class PriorDataModule(L.LightningDataModule):
    """Code grids of a VQ-VAE run's training and validation files, as prior batches.

    After :meth:`setup`: ``train_files`` / ``val_files``, ``train_grids`` / ``val_grids``
    (``[rows, cols, levels]``), ``train_mels`` / ``val_mels`` (whole log-mels of the files),
    ``val_seconds`` / ``train_seconds`` (audio duration) and ``layout``. ``kind`` keeps only the
    files in a folder of that name (a prior of one kind of sound, or its evaluation).
    """

    def __init__(
        self,
        codec: Codec,
        layout: GridLayout,
        context_columns: int,
        batch_size: int = 16,
        augmentation_expansion: int = 4,
        augment_copies: int = 0,
        file_start_fraction: float = 0.5,
        windows: str = "within_files",
        cache_dir: str | None = None,
        seed: int = 0,
        num_workers: int = 0,
        kind: str | None = None,
    ) -> None:
        super().__init__()
        if int(batch_size) < 1 or int(augmentation_expansion) < 1:
            raise ValueError("dataset.batch_size and dataset.augmentation_expansion must be >= 1")
        if not 0.0 <= float(file_start_fraction) <= 1.0:
            raise ValueError(
                f"dataset.file_start_fraction must be in [0, 1], got {file_start_fraction!r}"
            )
        self.codec = codec
        self.layout = layout
        self.context = int(context_columns)
        self.batch_size = int(batch_size)
        self.expansion = int(augmentation_expansion)
        if isinstance(augment_copies, bool) or int(augment_copies) < 0:
            raise ValueError(f"dataset.augment_copies must be >= 0, got {augment_copies!r}")
        self.augment_copies = int(augment_copies)
        self.file_start_fraction = float(file_start_fraction)
        if windows not in WINDOW_MODES:
            raise ValueError(
                f"dataset.windows must be one of {', '.join(WINDOW_MODES)}, got {windows!r}"
            )
        self.windows = windows
        self.cache_dir = cache_dir
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.kind = str(kind) if kind else None
        self._loaded = False

    def setup(self, stage: str | None = None) -> None:
        if self._loaded:
            return
        train, val, mel_data = rebuild_split(self.codec, self.cache_dir)
        if self.kind:
            train, val = of_kind(train, self.kind), of_kind(val, self.kind)
            if not train or not val:
                raise ValueError(
                    f"dataset.kind={self.kind!r}: {len(train)} training / {len(val)} validation "
                    "files of the VQ-VAE run lie in a folder of that name; name a folder of "
                    "the dataset (music, speech, ...) or drop dataset.kind"
                )
            log.info("kind=%s: %d training / %d validation files", self.kind, len(train), len(val))
        cache = CodeCache(self.cache_dir, self.codec)
        s = self.codec.settings
        if train == val:  # one file, split in time by the VQ-VAE run: split its columns too
            grid, mel = cache.grid(train[0]), cache.mel(train[0])
            split = mel_data.val_sources[0][1] // 16 if mel_data.val_sources else 0
            split = min(max(1, split), grid.shape[1] - 1)
            self.train_grids, self.val_grids = [grid[:, :split]], [grid[:, split:]]
            train_mels, self.val_mels = [mel[:, : split * 16]], [mel[:, split * 16 :]]
        else:
            self.train_grids = [cache.grid(f) for f in train]
            self.val_grids = [cache.grid(f) for f in val]
            train_mels, self.val_mels = [cache.mel(f) for f in train], [cache.mel(f) for f in val]
        self.train_files, self.val_files = train, val
        self.train_mels = train_mels
        self.cache_stats = dict(cache.stats)
        seconds_per_column = 16 * s.hop_length / s.sample_rate
        self.train_seconds = sum(g.shape[1] for g in self.train_grids) * seconds_per_column
        self.val_seconds = sum(m.shape[1] for m in self.val_mels) * s.hop_length / s.sample_rate
        self.train_columns = [self.layout.to_columns(g) for g in self.train_grids]
        if self.augment_copies:  # more code sequences: augmented versions of the training mels
            augmented = augmented_grids(self.codec, train_mels, self.augment_copies, self.seed)
            self.train_columns += [self.layout.to_columns(g) for g in augmented]
        self.val_columns = [self.layout.to_columns(g) for g in self.val_grids]
        # epochs count the real files: each training column is in ~expansion windows per epoch
        total = sum(g.shape[1] for g in self.train_grids)
        per_window = self.context
        if self.windows == "within_files":  # a window holds at most one file
            per_window = sum(min(g.shape[1], self.context) for g in self.train_grids)
            per_window = max(1.0, per_window / len(self.train_grids))
        self.train_set = TrainWindows(
            self.train_columns,
            self.context,
            math.ceil(self.expansion * total / per_window),
            self.file_start_fraction,
            self.seed,
            self.windows,
        )
        self.val_set = ScoreWindows(self.val_columns, self.context)
        self._loaded = True
        log.info(
            "prior data: %d train / %d val files, %.1f s / %.1f s of audio, %d code grids encoded "
            "(%d cached)",
            len(train),
            len(val),
            self.train_seconds,
            self.val_seconds,
            self.cache_stats["misses"],
            self.cache_stats["hits"],
        )

    def set_epoch(self, epoch: int) -> None:
        self.train_set.set_epoch(epoch)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=trim_batch,
        )

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.val_set, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers
        )
