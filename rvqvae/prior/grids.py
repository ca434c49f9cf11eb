"""Whole-file code grids of a VQ-VAE run's files, cached on disk, and the run's own split.

:class:`CodeCache` encodes a file's whole log-mel (from the mel cache) with the frozen VQ-VAE in
one pass into a grid ``[rows, cols, levels]`` (:func:`rvqvae.codec.grid.encode_grid`) and keeps
it under ``<cache>/codes/``, keyed by the VQ-VAE's weight hash and the mel cache's key of the
file (path, size, mtime, every mel parameter), written atomically. :func:`rebuild_split` rebuilds
the run's train/validation split from the config stored in its checkpoint. The prior's data
(:mod:`rvqvae.prior.data`), the vocoder's, the studio and the benchmarks read both.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rvqvae.atomic import atomic_write_bytes
from rvqvae.codec.grid import encode_grid
from rvqvae.codec.model import Codec
from rvqvae.data.cache import FeatureCache, default_cache_dir

CODES_CACHE_VERSION = 1


class CodeCache:
    """Whole-file code grids of one VQ-VAE, keyed by its weights and the file's mel cache key."""

    def __init__(self, root: str | os.PathLike[str] | None, codec: Codec) -> None:
        self.root = default_cache_dir(root) / "codes"
        self.codec = codec
        self.features = FeatureCache(root, codec.settings, codec.normalize_peak)
        self.stats = {"hits": 0, "misses": 0}

    def _entry(self, path: Path) -> Path:
        ident = f"{CODES_CACHE_VERSION}\0{self.codec.weights_sha256}\0{self.features.key(path)}"
        key = hashlib.sha256(ident.encode()).hexdigest()
        return self.root / key[:2] / f"{key}.npy"

    def mel(self, path: Path) -> np.ndarray:
        """The file's whole log-mel ``[n_mels, frames]`` (from the mel cache)."""
        return self.features.get(path).mel

    def grid(self, path: Path) -> Tensor:
        """The file's code grid ``[rows, cols, levels]`` (long), encoding on a cache miss."""
        entry = self._entry(path)
        try:
            grid = np.load(entry, allow_pickle=False)
            if grid.ndim == 3 and grid.shape[2] == self.codec.model.num_quantizers:
                self.stats["hits"] += 1
                return torch.from_numpy(grid.astype(np.int64))
        except (OSError, ValueError):
            pass
        self.stats["misses"] += 1
        grid_t = encode_grid(self.codec.model, torch.from_numpy(self.mel(path)))
        buf = io.BytesIO()
        np.save(
            buf,
            grid_t.numpy().astype(
                np.int16 if self.codec.model.codebook_size <= 32768 else np.int32
            ),
        )
        try:
            atomic_write_bytes(entry, buf.getvalue())
        except OSError:
            pass  # read-only cache: still usable, just not cached
        return grid_t


def rebuild_split(codec: Codec, cache_dir: str | None) -> tuple[list[Path], list[Path], Any]:
    """The VQ-VAE run's usable files split as in its training: ``(train, val, datamodule)``."""
    from rvqvae.data.datamodule import MelDataModule

    dataset = dict(codec.run_config.get("dataset") or {})
    if not dataset:
        raise ValueError(f"{codec.path}: the checkpoint holds no dataset config to rebuild")
    dataset.pop("_target_", None)
    dataset.pop("file_count", None)
    dataset["cache_dir"] = cache_dir
    datamodule = MelDataModule(**dataset)
    datamodule.setup()
    return list(datamodule.train_files), list(datamodule.val_files), datamodule
