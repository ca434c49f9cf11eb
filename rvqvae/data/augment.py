"""Training batches: the ``collate_fn`` that gathers chunk windows from the in-memory mels and
augments them vectorised in the mel domain:

* random window offset and time stretch (0.92-1.08), read with linear interpolation from the
  file's *full* mel, so offsets show real neighbouring audio (never across files or into the
  validation part of a time-split file);
* pitch shift of up to +-1.5 mel bins (linear interpolation along the mel axis);
* gain of +-6 dB and an additive noise floor 20-35 dB below the chunk's mean power, both applied
  in the power domain (``expm1`` -> scale/add -> ``log1p``), so values stay >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import get_worker_info


@dataclass
class AugmentConfig:
    """Ranges of the mel-domain augmentations (probabilities are per chunk)."""

    max_offset_frames: int = 47  # random window offset, +- frames
    stretch: float = 0.08  # time stretch factor in [1 - stretch, 1 + stretch]
    p_stretch: float = 0.5
    pitch_bins: float = 1.5  # pitch shift, +- mel bins
    p_pitch: float = 0.5
    gain_db: float = 6.0  # gain, +- dB
    p_gain: float = 0.8
    noise_db: tuple[float, float] = (-35.0, -20.0)  # noise floor relative to the chunk power
    p_noise: float = 0.3


class ChunkBatcher:
    """``collate_fn`` mapping a list of indices to a (possibly augmented) batch.

    Chunk ``k`` is the window of ``chunk_frames`` frames starting at ``starts[k]`` in ``store``
    (``[n_mels, S]``, the concatenated full mels of the files with zero gaps). An augmented
    window may start anywhere in ``[lo[k], max_start[k]]`` and reads frames below
    ``read_end[k]`` only (frames past it repeat the last readable one).

    The frames are held frames-major (``frames`` ``[S, n_mels]``, ``store`` is its transposed
    view), so gathering a window reads whole contiguous frames. :meth:`to` moves the store, the
    index tensors and the random generator to a device: batches are then gathered and augmented
    there (from indices already on that device) without a host synchronisation.
    """

    def __init__(
        self,
        store: Tensor,
        starts: Tensor,
        lo: Tensor,
        max_start: Tensor,
        read_end: Tensor,
        chunk_frames: int,
        augment: bool,
        seed: int,
        config: AugmentConfig | None = None,
    ) -> None:
        self.frames = store.T.contiguous()  # [S, n_mels]; no copy if store is a transposed view
        self.starts, self.lo, self.max_start, self.read_end = starts, lo, max_start, read_end
        self.chunk_frames = chunk_frames
        self.augment = augment
        self.config = config or AugmentConfig()
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._worker_seed: int | None = None
        self.plain: Tensor | None = None  # precomputed un-augmented windows [N, 1, n_mels, T]

    @property
    def store(self) -> Tensor:
        """The frames as ``[n_mels, S]`` (a view: writing to it writes the frames)."""
        return self.frames.T

    @property
    def device(self) -> torch.device:
        return self.frames.device

    @property
    def num_chunks(self) -> int:
        return int(self.starts.shape[0])

    def to(self, device: torch.device | str) -> ChunkBatcher:
        """Moves the frames, index tensors, plain windows and generator to ``device`` (the
        generator restarts from ``seed`` there); returns self."""
        device = torch.device(device)
        if device == self.device:
            return self
        self.frames = self.frames.to(device)
        self.starts, self.lo, self.max_start, self.read_end = (
            t.to(device) for t in (self.starts, self.lo, self.max_start, self.read_end)
        )
        if self.plain is not None:
            self.plain = self.plain.to(device)
        self.generator = torch.Generator(device=device).manual_seed(self.seed)
        return self

    def _gen(self) -> torch.Generator:
        info = get_worker_info()
        if info is not None and self._worker_seed != info.seed:
            self._worker_seed = info.seed  # distinct per worker and epoch
            self.generator.manual_seed(info.seed % (2**63))
        return self.generator

    def gather(
        self, idx: Tensor, offset: Tensor | None = None, rate: Tensor | None = None
    ) -> Tensor:
        """Windows ``[B, 1, n_mels, T]`` for chunks ``idx``, optionally shifted/stretched."""
        return self._windows(idx, offset, rate).mT.unsqueeze(1).contiguous()

    def _windows(self, idx: Tensor, offset: Tensor | None, rate: Tensor | None) -> Tensor:
        """Frames-major windows ``[B, T, n_mels]`` (linear interpolation between frames)."""
        starts = self.starts[idx].double()  # [B]
        t = torch.arange(self.chunk_frames, dtype=torch.float64, device=self.device)  # [T]
        if offset is not None:
            lo, hi = self.lo[idx].double(), self.max_start[idx].double()
            starts = torch.minimum(torch.maximum(starts + offset, lo), torch.maximum(hi, starts))
        pos = starts[:, None] + (t[None, :] if rate is None else t[None, :] * rate[:, None])
        last = (self.read_end[idx] - 1).double()[:, None]  # [B, 1]
        pos = torch.minimum(pos, last)
        i0 = pos.floor()
        frac = (pos - i0).float().unsqueeze(-1)  # [B, T, 1]
        i0 = i0.long()
        i1 = torch.minimum(i0 + 1, last.long())
        w0 = self.frames[i0]  # [B, T, n_mels]
        return w0 + (self.frames[i1] - w0) * frac

    def augment_batch(self, idx: Tensor) -> Tensor:
        """Augmented batch ``[B, 1, n_mels, T]`` for chunk indices ``idx`` ``[B]`` (on the
        batcher's device)."""
        g, c, device = self._gen(), self.config, self.device
        b = idx.shape[0]

        def rand(*shape: int) -> Tensor:
            return torch.rand(shape, generator=g, device=device)

        def draw(p: float) -> Tensor:
            return (rand(b) < p).float()

        def uniform(lo: float, hi: float) -> Tensor:
            return lo + (hi - lo) * rand(b)

        offset = torch.randint(
            -c.max_offset_frames, c.max_offset_frames + 1, (b,), generator=g, device=device
        )
        rate = 1.0 + draw(c.p_stretch) * uniform(-c.stretch, c.stretch)
        x = self._windows(idx, offset.double(), rate.double())  # [B, T, M]

        m = x.shape[2]
        shift = draw(c.p_pitch) * uniform(-c.pitch_bins, c.pitch_bins)  # [B]
        mel_bins = torch.arange(m, dtype=torch.float32, device=device)
        src = (mel_bins[None, :] - shift[:, None]).clamp(0, m - 1)  # [B, M]
        i0 = src.floor().long()
        frac = (src - i0).unsqueeze(1)  # [B, 1, M]
        i1 = (i0 + 1).clamp(max=m - 1)
        x0 = torch.gather(x, 2, i0.unsqueeze(1).expand_as(x))
        x1 = torch.gather(x, 2, i1.unsqueeze(1).expand_as(x))
        x = x0 + (x1 - x0) * frac

        power = torch.expm1(x.clamp(min=0))  # [B, T, M]
        gain_db = draw(c.p_gain) * uniform(-c.gain_db, c.gain_db)
        power = power * (10.0 ** (gain_db / 10.0))[:, None, None]
        noise_db = uniform(*c.noise_db)
        level = power.mean(dim=(1, 2)) * 10.0 ** (noise_db / 10.0)  # [B]
        noisy = draw(c.p_noise)  # [B] 0/1; uniform [0, 2) noise: mean power = level
        if device.type == "cpu":  # noise for the chosen chunks only (a third of the draws)
            rows = noisy.nonzero()[:, 0]
            if rows.numel():
                noise = 2.0 * rand(rows.numel(), m, power.shape[1]).mT  # drawn [n, M, T]
                power[rows] += level[rows, None, None] * noise
        else:  # on an accelerator every chunk draws noise: nonzero() would wait for the device
            power += (noisy * level)[:, None, None] * (2.0 * rand(b, m, power.shape[1]).mT)
        return torch.log1p(power).clamp(min=0).mT.unsqueeze(1).contiguous()

    def __call__(self, indices: list[int] | Tensor) -> Tensor:
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.device) % self.num_chunks
        if self.augment:
            return self.augment_batch(idx)
        return self.plain[idx] if self.plain is not None else self.gather(idx)
