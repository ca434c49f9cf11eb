"""The vocoder's data: a VQ-VAE run's own files and train/validation split, as (mel, audio) crops.

The split is the VQ-VAE run's (:func:`rvqvae.prior.data.rebuild_split`, as the prior rebuilds
it). Each file is decoded once (mono, resampled, peak-normalised as the VQ-VAE saw it); its
whole log-mel comes from the mel cache and, with ``input=recon``, goes through the frozen
VQ-VAE once (encode + decode of the whole-file grid). A training item is a random crop *within*
one file: ``segment_frames`` mel frames starting at frame ``s`` and the samples
``[s * hop, (s + segment_frames) * hop)``, which lie inside the file (never across files, never
zero padding). Validation uses fixed, evenly spaced crops of the validation files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from rvqvae.codec.grid import decode_grid, encode_grid
from rvqvae.codec.model import Codec
from rvqvae.data.cache import FeatureCache
from rvqvae.data.io import load_audio
from rvqvae.prior.grids import rebuild_split

log = logging.getLogger(__name__)

INPUTS = ("mel", "recon")


@dataclass
class VocoderFile:
    """One file: the mel the vocoder sees ``[n_mels, F]`` and its audio ``[N]``."""

    name: str
    mel: np.ndarray
    audio: np.ndarray

    hop: int = 512

    @property
    def usable_frames(self) -> int:
        """Frames whose hop of samples lies entirely inside the audio."""
        return min(self.mel.shape[1], self.audio.shape[0] // self.hop)


class RandomCrops(Dataset):
    """``count`` random crops per epoch; a file's chance is proportional to its length."""

    def __init__(self, files: list[VocoderFile], frames: int, hop: int, count: int, seed: int):
        self.files = [f for f in files if f.usable_frames >= frames]
        if not self.files:
            raise ValueError(
                f"no training file is {frames} frames long: lower vocoder.segment_frames"
            )
        self.frames, self.hop, self.count, self.seed = frames, hop, max(1, int(count)), seed
        weights = torch.tensor([float(f.usable_frames - frames + 1) for f in self.files])
        self.weights = weights / weights.sum()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        self.pick = torch.multinomial(self.weights, self.count, True, generator=g).tolist()
        self.u = torch.rand(self.count, generator=g).tolist()

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        f = self.files[self.pick[i]]
        start = int(self.u[i] * (f.usable_frames - self.frames + 1))
        return _crop(f, start, self.frames, self.hop)


class FixedCrops(Dataset):
    """Up to ``per_file`` evenly spaced crops of each file (shorter files: one whole crop)."""

    def __init__(self, files: list[VocoderFile], frames: int, hop: int, per_file: int):
        self.items: list[tuple[Tensor, Tensor]] = []
        for f in files:
            n = f.usable_frames
            if n < frames:
                continue
            starts = np.linspace(0, n - frames, max(1, int(per_file))).round().astype(int)
            self.items += [_crop(f, int(s), frames, hop) for s in sorted(set(starts.tolist()))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.items[i]


def _crop(f: VocoderFile, start: int, frames: int, hop: int) -> tuple[Tensor, Tensor]:
    mel = torch.from_numpy(np.ascontiguousarray(f.mel[:, start : start + frames]))
    audio = torch.from_numpy(np.ascontiguousarray(f.audio[start * hop : (start + frames) * hop]))
    return mel, audio


class VocoderDataModule(L.LightningDataModule):
    """(input mel ``[B, n_mels, S]``, audio ``[B, S * hop]``) crops of a VQ-VAE run's files.

    After :meth:`setup`: ``train_files`` / ``val_files`` (paths), ``train`` / ``val``
    (:class:`VocoderFile` lists with the chosen input mel) and ``val_analysis_mels``.
    """

    def __init__(
        self,
        codec: Codec,
        input: str = "mel",
        segment_frames: int = 32,
        batch_size: int = 16,
        augmentation_expansion: float = 1.0,
        val_crops_per_file: int = 4,
        cache_dir: str | None = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not float(augmentation_expansion) > 0:
            raise ValueError(
                f"dataset.augmentation_expansion must be > 0, got {augmentation_expansion!r}"
            )
        if input not in INPUTS:
            raise ValueError(f"vocoder.input must be one of {', '.join(INPUTS)}, got {input!r}")
        for name, value in (
            ("segment_frames", segment_frames),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or int(value) < 1:
                raise ValueError(f"dataset.{name} must be >= 1, got {value!r}")
        self.codec, self.input = codec, input
        self.frames, self.batch_size = int(segment_frames), int(batch_size)
        self.expansion, self.val_per_file = float(augmentation_expansion), int(val_crops_per_file)
        self.cache_dir, self.seed, self.num_workers = cache_dir, int(seed), int(num_workers)
        self._loaded = False

    def _load(self, paths: list) -> tuple[list[VocoderFile], list[np.ndarray]]:
        s, codec = self.codec.settings, self.codec
        cache = FeatureCache(self.cache_dir, s, codec.normalize_peak)
        files, analysis = [], []
        for path in paths:
            mel = cache.get(path).mel
            audio = load_audio(path, s.sample_rate, codec.normalize_peak)
            analysis.append(mel)
            if self.input == "recon":
                grid = encode_grid(codec.model, torch.from_numpy(mel))
                mel = decode_grid(codec.model, grid, mel.shape[1], s.n_mels).numpy()
            mel = np.ascontiguousarray(mel, np.float32)
            files.append(VocoderFile(str(path), mel, audio, s.hop_length))
        return files, analysis

    def setup(self, stage: str | None = None) -> None:
        if self._loaded:
            return
        train, val, _ = rebuild_split(self.codec, self.cache_dir)
        hop = self.codec.settings.hop_length
        self.train, _ = self._load(train)
        if train == val:  # one file, split in time by the VQ-VAE run: split it in half
            f = self.train[0]
            half = f.usable_frames // 2
            self.val = [VocoderFile(f.name, f.mel[:, half:], f.audio[half * hop :], hop)]
            self.train = [VocoderFile(f.name, f.mel[:, :half], f.audio[: half * hop], hop)]
        else:
            self.val, _ = self._load(val)
        self.train_files, self.val_files = train, val
        frames = self.frames
        longest = max(f.usable_frames for f in self.train)
        if longest < frames:
            raise ValueError(
                f"dataset.segment_frames={frames} is longer than every training file "
                f"({longest} frames): lower it"
            )
        total = sum(f.usable_frames for f in self.train)
        crops = max(1, round(self.expansion * total / frames))
        self.train_set = RandomCrops(self.train, frames, hop, crops, self.seed)
        self.val_set = FixedCrops(self.val, frames, hop, self.val_per_file)
        seconds = sum(f.audio.shape[0] for f in self.train) / self.codec.settings.sample_rate
        self.train_seconds = seconds
        self._loaded = True
        log.info(
            "vocoder data (input=%s): %d train / %d val files, %.1f s of training audio, "
            "%d validation crops",
            self.input,
            len(self.train),
            len(self.val),
            seconds,
            len(self.val_set),
        )

    def set_epoch(self, epoch: int) -> None:
        self.train_set.set_epoch(epoch)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.train_set, self.batch_size, shuffle=False, num_workers=self.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.val_set, self.batch_size, shuffle=False, num_workers=self.num_workers
        )
