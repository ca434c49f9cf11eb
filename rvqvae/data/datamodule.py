"""Lightning datamodule: a folder of audio (or the synth set) -> in-memory log-mel chunks.

Everything is decoded once (through :class:`~rvqvae.data.cache.FeatureCache`,
:func:`~rvqvae.data.loading.load_chunk_starts`) and held in memory as float32 tensors, so a
training step never waits on I/O. Datasets only yield integer indices; the ``collate_fn``
(:class:`~rvqvae.data.augment.ChunkBatcher`) gathers a whole batch from the tensors and augments
it vectorised in the mel domain. Batches are plain tensors ``[B, 1, n_mels, chunk_frames]``.
Validation is never augmented. The train/validation split: :mod:`rvqvae.data.split`; the
in-memory stores it fills: :mod:`rvqvae.data.stores`.

``augment_on="device"`` (``auto``: on a CUDA device when the data fits in a quarter of its free
memory) holds the training and validation mels on the training device: the loaders then yield
only chunk indices (``{"train_indices": ...}``), and :meth:`MelDataModule.on_after_batch_transfer`
gathers and augments the batch there, with no host work or synchronisation per step.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from rvqvae.data.augment import AugmentConfig, ChunkBatcher
from rvqvae.data.batches import (
    AUGMENT_ON,
    IndexCollate,
    IndexDataset,
    TensorBatcher,
    fits_on_device,
)
from rvqvae.data.cache import FeatureCache, default_cache_dir
from rvqvae.data.chunks import chunk_hop_frames
from rvqvae.data.discovery import DatasetError, count_audio_files, discover_audio_files
from rvqvae.data.loading import Usable, load_chunk_starts, warn_skipped
from rvqvae.data.mel import MelSettings
from rvqvae.data.split import split_train_val
from rvqvae.data.stores import build_train_store, build_val_chunks
from rvqvae.data.synth import generate_synth_dataset, synth_params


def count_usable_files(path: str | os.PathLike[str]) -> int:
    """Cheap file count for config composition (extension based, no decoding)."""
    return count_audio_files(path)


class MelDataModule(L.LightningDataModule):
    """Log-mel chunks of a folder of audio (or of the generated synth set), held in memory.

    After :meth:`setup`: ``files`` / ``train_files`` / ``val_files`` (usable files),
    ``file_count``, ``bad_files`` ``[(path, reason)]``, ``train_chunks`` / ``val_chunks``
    ``[N, 1, n_mels, chunk_frames]``, ``train_sources`` / ``val_sources`` ``[(path, start
    frame)]`` per chunk, ``mean_train_mel`` ``[1, n_mels, chunk_frames]``, ``settings`` and
    ``chunk_frames``.

    ``on_bad_file="skip"`` warns (one line per file: path and reason) and goes on;
    ``"error"`` raises one :class:`DatasetError` listing every bad file. ``file_count`` (the
    config-time count) is only recorded as ``declared_file_count``. ``max_files`` keeps the
    first files in sorted path order. ``silence_threshold_db`` is an absolute RMS level in dBFS
    measured after the optional peak normalisation (see ``chunks.chunk_starts``).
    """

    def __init__(
        self,
        path: str | None = None,
        synth: dict[str, Any] | None = None,
        sample_rate: int = 48000,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        normalize_peak: bool = True,
        chunk_duration_s: float = 1.0,
        chunk_hop_s: float | None = None,
        silence_threshold_db: float = -60.0,
        val_fraction: float = 0.2,
        augmentation_expansion: int = 1,
        augment: bool = True,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | None = ".cache",
        on_bad_file: str = "skip",
        max_files: int | None = None,
        file_count: int | None = None,
        augment_on: str = "auto",
    ) -> None:
        super().__init__()
        # ``file_count`` is the config-time (extension-based) count; accepted so the Hydra node
        # can be instantiated as is. The usable count after setup is the ``file_count`` property.
        self.declared_file_count = file_count
        if path is None and not synth:
            raise DatasetError("no dataset given: set a folder path or synth parameters")
        if on_bad_file not in ("skip", "error"):
            raise ValueError(f"on_bad_file must be 'skip' or 'error', got {on_bad_file!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if int(augmentation_expansion) < 1 or int(batch_size) < 1:
            raise ValueError("augmentation_expansion and batch_size must be >= 1")
        if augment_on not in AUGMENT_ON:
            raise ValueError(f"dataset.augment_on must be one of {AUGMENT_ON}, got {augment_on!r}")
        if max_files is not None and max_files < 1:
            raise ValueError(f"max_files must be >= 1 or None, got {max_files}")
        self.path = path
        self.synth = dict(synth) if synth else None
        mel = {"sample_rate": sample_rate, "n_fft": n_fft, "hop_length": hop_length}
        mel |= {"n_mels": n_mels, "fmin": fmin, "fmax": fmax}
        self.settings = MelSettings.from_config(mel)
        self.normalize_peak = bool(normalize_peak)
        self.chunk_duration_s = float(chunk_duration_s)
        self.chunk_hop_s = None if chunk_hop_s is None else float(chunk_hop_s)
        self.silence_threshold_db = float(silence_threshold_db)
        self.val_fraction = float(val_fraction)
        self.augmentation_expansion = int(augmentation_expansion)
        self.augment = bool(augment)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.augment_on = augment_on
        self.seed = int(seed)
        self.cache_dir = default_cache_dir(cache_dir)
        self.on_bad_file = on_bad_file
        self.max_files = max_files
        self.chunk_frames = self.settings.chunk_frames(self.chunk_duration_s)
        self.hop_frames = chunk_hop_frames(self.settings, self.chunk_duration_s, self.chunk_hop_s)

        self.files: list[Path] = []
        self.train_files: list[Path] = []
        self.val_files: list[Path] = []
        self.bad_files: list[tuple[Path, str]] = []
        self.train_sources: list[tuple[Path, int]] = []
        self.val_sources: list[tuple[Path, int]] = []
        self.train_chunks: Tensor | None = None
        self.val_chunks: Tensor | None = None
        self.mean_train_mel: Tensor | None = None
        self.cache_stats: dict[str, int] = {}
        self._batcher: ChunkBatcher | None = None
        self._val_batcher: TensorBatcher | None = None
        self._loaded = False

    # ----------------------------------------------------------------------------------------

    @property
    def file_count(self) -> int:
        """Number of usable (decodable, non-silent) files; 0 before setup."""
        return len(self.files)

    @property
    def frames_per_second(self) -> float:
        """Mel frames per second of audio (93.75 at 48 kHz / hop 512)."""
        return self.settings.sample_rate / self.settings.hop_length

    def dataset_path(self) -> Path:
        """The audio folder: ``path``, or the synth folder (generated if needed)."""
        if self.synth:
            params = synth_params(**{"sample_rate": self.settings.sample_rate, **self.synth})
            digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
            out = self.cache_dir / f"synth-{digest[:12]}"
            kwargs = {k: v for k, v in params.items() if k != "version"}
            return generate_synth_dataset(out, **kwargs)
        return Path(self.path).expanduser().absolute()

    def prepare_data(self) -> None:
        """Generate the synth set if needed and fill the feature cache (decodes once)."""
        self._load()

    def setup(self, stage: str | None = None) -> None:
        """Load all chunks into memory (from the cache) and split train/val. Idempotent."""
        self._load()

    # ----------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        root = self.dataset_path()
        candidates = discover_audio_files(root)
        if self.max_files is not None:
            candidates = candidates[: self.max_files]
        cache = FeatureCache(self.cache_dir, self.settings, self.normalize_peak)

        usable, bad = load_chunk_starts(
            candidates, cache, self.chunk_frames, self.hop_frames, self.silence_threshold_db
        )
        self.cache_stats = dict(cache.stats)
        self.bad_files = bad
        if bad and self.on_bad_file == "error":
            listing = "; ".join(f"{p}: {r}" for p, r in bad)
            raise DatasetError(f"{len(bad)} bad audio file(s) in {root}: {listing}")
        warn_skipped(bad, stacklevel=3)
        if not usable:
            raise DatasetError(
                f"dataset folder {root} has no decodable audio: all {len(candidates)} audio "
                f"file(s) are unusable (first: {bad[0][0].name}: {bad[0][1]})"
            )
        self.files = [f for f, _, _ in usable]
        self._split(root, usable)
        self._loaded = True

    def _split(self, root: Path, usable: list[Usable]) -> None:
        c = self.chunk_frames
        train_items, val_items = split_train_val(usable, self.val_fraction, self.seed, c, root)
        self.val_files = [usable[i][0] for i, _ in val_items]
        self.train_files = [usable[i][0] for i, _, _ in train_items]
        augment = AugmentConfig(max_offset_frames=max(0, self.hop_frames // 2))
        train = build_train_store(usable, train_items, c, self.augment, self.seed, augment)
        self._batcher, self.train_sources = train.batcher, train.sources
        self.train_chunks = train.chunks
        self.mean_train_mel = self.train_chunks.mean(dim=0)  # [1, n_mels, T]
        self.val_chunks, self.val_sources = build_val_chunks(usable, val_items, c)
        self._val_batcher = TensorBatcher(self.val_chunks)

    # ----------------------------------------------------------------------------------------

    def _require_setup(self) -> None:
        if not self._loaded:
            self.setup()

    def train_dataloader(self) -> DataLoader:
        """Shuffled, augmented batches; ``len(dataset) = n_train_chunks * expansion`` (on the
        device path: their chunk indices, see :meth:`on_after_batch_transfer`)."""
        self._require_setup()
        assert self._batcher is not None
        length = self._batcher.num_chunks * self.augmentation_expansion
        on_device = self.augments_on_device()
        return DataLoader(
            IndexDataset(length),
            batch_size=self.batch_size,
            shuffle=True,
            collate_fn=IndexCollate("train_indices") if on_device else self._batcher,
            num_workers=0 if on_device else self.num_workers,
            persistent_workers=self.num_workers > 0 and not on_device,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def val_dataloader(self) -> DataLoader:
        """Deterministic, un-augmented validation batches in a fixed order."""
        self._require_setup()
        assert self._val_batcher is not None
        on_device = self.augments_on_device()
        return DataLoader(
            IndexDataset(self._val_batcher.chunks.shape[0]),
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=IndexCollate("val_indices") if on_device else self._val_batcher,
            num_workers=0 if on_device else self.num_workers,
            persistent_workers=self.num_workers > 0 and not on_device,
        )

    def augments_on_device(self) -> bool:
        """True when batches are gathered and augmented on the training device."""
        if self.augment_on != "auto":
            return self.augment_on == "device"
        trainer = self.trainer  # LightningDataModule's attribute: None until a Trainer has it
        if trainer is None or self._batcher is None or self.val_chunks is None:
            return False
        held = [self._batcher.frames, self.train_chunks, self.val_chunks]
        return fits_on_device(held, trainer.strategy.root_device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Device path: the chunk indices (already on the device) become the batch there (the
        mels move to that device with the first batch)."""
        return self._batch_from_indices(batch, move=True)

    def training_batches(self) -> Any:
        """The training loader's batches as mel tensors, on either path (for code outside the
        Trainer's loop, such as the k-means init's top-up); nothing moves between devices."""
        for batch in self.train_dataloader():
            yield self._batch_from_indices(batch, move=False)

    def _batch_from_indices(self, batch: Any, move: bool) -> Any:
        if not isinstance(batch, dict):  # the loader path: already a batch
            return batch
        ((key, idx),) = batch.items()
        batcher = self._batcher if key == "train_indices" else self._val_batcher
        assert batcher is not None and key in ("train_indices", "val_indices")
        return (batcher.to(idx.device) if move else batcher)(idx)

    def init_batch(self, num_chunks: int) -> Tensor:
        """Up to ``num_chunks`` training chunks (deterministic random sample) for k-means init."""
        self._require_setup()
        assert self.train_chunks is not None
        n = self.train_chunks.shape[0]
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        return self.train_chunks[perm[: max(1, min(int(num_chunks), n))]].clone()

    def preview_indices(self, n: int = 4) -> list[int]:
        """Indices of the ``n`` fixed preview chunks (evenly spaced over the validation set)."""
        self._require_setup()
        assert self.val_chunks is not None
        total = self.val_chunks.shape[0]
        return torch.linspace(0, total - 1, max(1, min(n, total))).round().long().unique().tolist()

    def preview_chunks(self, n: int = 4) -> Tensor:
        """``n`` fixed validation chunks (:meth:`preview_indices`)."""
        assert self.val_chunks is not None
        return self.val_chunks[self.preview_indices(n)].clone()

    def preview_files(self, n: int = 4) -> list[Path]:
        """The distinct files (in order) that the ``n`` preview chunks come from."""
        return list(dict.fromkeys(self.val_sources[i][0] for i in self.preview_indices(n)))

    def summary(self) -> dict[str, Any]:
        """Plain-value description of the loaded dataset (for logging)."""
        self._require_setup()
        assert self.train_chunks is not None and self.val_chunks is not None
        secs = self.settings.hop_length / self.settings.sample_rate
        return {
            "files": self.file_count,
            "train_files": len(self.train_files),
            "val_files": len(self.val_files),
            "bad_files": len(self.bad_files),
            "train_chunks": int(self.train_chunks.shape[0]),
            "val_chunks": int(self.val_chunks.shape[0]),
            "chunk_shape": list(self.train_chunks.shape[1:]),
            "train_seconds": round(self.train_chunks.shape[0] * self.chunk_frames * secs, 2),
            "epoch_batches": math.ceil(
                self.train_chunks.shape[0] * self.augmentation_expansion / self.batch_size
            ),
        }
