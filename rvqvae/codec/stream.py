"""Bounded-memory building blocks: block audio reader, streaming log-mel, chunking, stitching
and block-wise Griffin-Lim.

Every stage is a generator over blocks, so a 10 min file never exists in memory as a whole
(neither its samples nor its mel nor its STFT); only the codes are kept for the whole file.
The streaming log-mel equals :func:`rvqvae.data.audio.audio_to_mel` of the whole file (same
centred framing, same zero padding, same ops).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from rvqvae.data import audio as audio_mod
from rvqvae.data.audio import BadAudioFile, MelSettings, frames_for

DEFAULT_BLOCK_SAMPLES = 1 << 18  # audio samples read per block (~5.5 s at 48 kHz)


# --------------------------------------------------------------------------------------------
# Audio: two passes over the file in blocks (peak and length first, then the samples)
# --------------------------------------------------------------------------------------------


class AudioReader:
    """Mono float32 blocks of ``path`` at ``sample_rate``, peak-normalised like ``load_audio``.

    The constructor scans the file once (length, finiteness, peak - after resampling when the
    file's rate differs); :meth:`blocks` then yields ``[<= block_samples]`` blocks. Files that
    libsndfile cannot stream (audioread fallback formats) are decoded whole by ``load_audio``.

    Raises:
        BadAudioFile: the same conditions as :func:`rvqvae.data.audio.load_audio`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        normalize_peak: bool = True,
        block_samples: int = DEFAULT_BLOCK_SAMPLES,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.normalize_peak = bool(normalize_peak)
        self.block_samples = max(1, int(block_samples))
        self._whole: np.ndarray | None = None  # fallback: the fully decoded file
        self.blocks_read = 0  # blocks yielded by the last blocks() pass (for tests)
        try:
            size = self.path.stat().st_size
        except OSError as err:
            raise BadAudioFile(self.path, f"cannot be read ({err.strerror})") from None
        if size == 0:
            raise BadAudioFile(self.path, "file is empty (0 bytes)")
        audio_mod._check_riff_truncation(self.path)
        try:
            import soundfile as sf

            with sf.SoundFile(str(self.path)) as f:
                self.source_sample_rate = int(f.samplerate)
        except Exception:
            self._fallback()
            return
        self._scan()

    def _fallback(self) -> None:
        audio = audio_mod.load_audio(self.path, self.sample_rate, normalize_peak=False)
        peak = float(np.max(np.abs(audio)))
        self.source_sample_rate = self.sample_rate
        self.source_num_samples = self.num_samples = int(audio.shape[0])
        self.gain = peak_gain(peak) if self.normalize_peak else 1.0
        self._whole = audio

    def _raw_blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 blocks at the file's own rate."""
        import soundfile as sf

        with sf.SoundFile(str(self.path)) as f:
            while True:
                block = f.read(self.block_samples, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                if block.shape[1] > 1:
                    yield block.mean(axis=1, dtype=np.float32)
                else:
                    yield np.ascontiguousarray(block[:, 0])

    def _resampled(self) -> Iterator[np.ndarray]:
        """Blocks at ``sample_rate`` (soxr stream when the rates differ), unscaled."""
        if self.source_sample_rate == self.sample_rate:
            yield from self._raw_blocks()
            return
        import soxr

        stream = soxr.ResampleStream(
            self.source_sample_rate, self.sample_rate, 1, dtype="float32", quality="HQ"
        )
        for block in self._raw_blocks():
            out = stream.resample_chunk(block, last=False)
            if out.size:
                yield out.astype(np.float32, copy=False)
        out = stream.resample_chunk(np.zeros(0, np.float32), last=True)
        if out.size:
            yield out.astype(np.float32, copy=False)

    def _scan(self) -> None:
        src_n, src_peak, n, peak = 0, 0.0, 0, 0.0
        try:
            for block in self._raw_blocks():
                if not np.isfinite(block).all():
                    raise BadAudioFile(self.path, "contains NaN or infinite samples")
                src_n += block.shape[0]
                src_peak = max(src_peak, float(np.max(np.abs(block))))
        except BadAudioFile:
            raise
        except Exception as err:
            raise BadAudioFile(self.path, f"cannot be decoded ({err})") from None
        if src_n == 0:
            raise BadAudioFile(self.path, "contains no samples (zero length)")
        if src_peak <= 10 ** (audio_mod.SILENT_PEAK_DB / 20):
            raise BadAudioFile(
                self.path, f"is silent (peak below {audio_mod.SILENT_PEAK_DB:g} dBFS)"
            )
        if self.source_sample_rate != self.sample_rate:
            for block in self._resampled():
                n += block.shape[0]
                peak = max(peak, float(np.max(np.abs(block))))
            if n == 0:
                raise BadAudioFile(self.path, "contains no samples after resampling (too short)")
        else:
            n, peak = src_n, src_peak
        self.source_num_samples = src_n
        self.num_samples = n
        self.gain = peak_gain(peak) if self.normalize_peak else 1.0

    def blocks(self) -> Iterator[np.ndarray]:
        """Scaled mono float32 blocks ``[<= block_samples]`` totalling ``num_samples``."""
        self.blocks_read = 0
        gain = np.float32(self.gain)
        if self._whole is not None:
            source: Iterable[np.ndarray] = (
                self._whole[i : i + self.block_samples]
                for i in range(0, self._whole.shape[0], self.block_samples)
            )
        else:
            source = self._resampled()
        for block in source:
            self.blocks_read += 1
            yield block * gain if self.normalize_peak else block


def peak_gain(peak: float) -> float:
    """Gain that ``load_audio(normalize_peak=True)`` applies for a given peak."""
    return float(np.float32(audio_mod.PEAK_TARGET / peak)) if peak > 0 else 1.0


# --------------------------------------------------------------------------------------------
# Streaming log-mel
# --------------------------------------------------------------------------------------------


def _mel_frames(segment: np.ndarray, settings: MelSettings) -> np.ndarray:
    """Log-mel of consecutive frames from a segment starting at a frame's window start."""
    x = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))[None]  # [1, S]
    return audio_mod.mel_frames(x, settings)[0].numpy()  # [n_mels, f]


def stream_mel(
    blocks: Iterable[np.ndarray], num_samples: int, settings: MelSettings
) -> Iterator[np.ndarray]:
    """Log-mel blocks ``[n_mels, f]`` of a signal given as sample blocks.

    Frame ``t`` is centred on sample ``t * hop`` with zero padding outside the signal; the blocks
    concatenate to ``audio_to_mel(whole_signal)`` (``frames_for(num_samples)`` frames).
    """
    hop, n_fft = settings.hop_length, settings.n_fft
    half = n_fft // 2
    total = frames_for(num_samples, hop)
    buf = np.zeros(half, np.float32)  # samples from absolute index buf_start
    buf_start = -half
    next_frame = 0
    max_frames = 4096  # frames per STFT call

    def ready(avail_end: int) -> int:
        # frame t needs absolute samples [t*hop - half, t*hop - half + n_fft)
        return min(total, max(0, (avail_end - n_fft + half) // hop + 1))

    def emit(last: int) -> Iterator[np.ndarray]:
        nonlocal next_frame
        while next_frame < last:
            f1 = min(last, next_frame + max_frames)
            lo = next_frame * hop - half - buf_start
            hi = (f1 - 1) * hop + n_fft - half - buf_start
            yield _mel_frames(buf[lo:hi], settings)
            next_frame = f1

    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, np.float32)])
        yield from emit(ready(buf_start + buf.shape[0]))
        drop = next_frame * hop - half - buf_start
        if drop > 0:
            buf, buf_start = buf[drop:], buf_start + drop
    need = (total - 1) * hop - half + n_fft  # absolute end of the last frame's window
    pad = need - (buf_start + buf.shape[0])
    if pad > 0:
        buf = np.concatenate([buf, np.zeros(pad, np.float32)])
    yield from emit(total)


# --------------------------------------------------------------------------------------------
# Chunking and stitching
# --------------------------------------------------------------------------------------------


def chunk_plan(num_frames: int, chunk_frames: int, hop_frames: int) -> np.ndarray:
    """Start frames ``[N]`` of overlapping chunks covering ``num_frames`` frames.

    Chunks start every ``hop_frames``; the last one is the first that reaches the end (zero
    padded past it). A file of at most ``chunk_frames`` frames is one chunk.
    """
    if num_frames <= chunk_frames:
        return np.zeros(1, np.int64)
    n = 1 + math.ceil((num_frames - chunk_frames) / hop_frames)
    return np.arange(n, dtype=np.int64) * hop_frames


def stream_chunks(
    mel_blocks: Iterable[np.ndarray], num_frames: int, chunk_frames: int, hop_frames: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, mel [n_mels, chunk_frames])`` for every planned chunk, zero padded at the end."""
    it = iter(mel_blocks)
    buf: np.ndarray | None = None  # frames from absolute frame buf0
    buf0 = 0
    for start in chunk_plan(num_frames, chunk_frames, hop_frames).tolist():
        end = min(start + chunk_frames, num_frames)
        while buf is None or buf0 + buf.shape[1] < end:
            block = next(it)
            buf = block if buf is None else np.concatenate([buf, block], axis=1)
        drop = start - buf0
        if drop > 0:
            buf, buf0 = buf[:, drop:], start
        chunk = np.zeros((buf.shape[0], chunk_frames), np.float32)
        chunk[:, : end - start] = buf[:, : end - start]
        yield start, chunk


def crossfade_window(chunk_frames: int) -> np.ndarray:
    """sin^2 window ``[C]`` (> 0 everywhere); shifted copies at C/2 sum to exactly one."""
    n = np.arange(chunk_frames, dtype=np.float64)
    return np.sin(np.pi * (n + 0.5) / chunk_frames) ** 2


class MelStitcher:
    """Overlap-add of chunk mels with weights normalised to sum to one at every frame.

    ``add(start, mel [n_mels, C])`` in increasing ``start`` order; ``pop(until)`` returns the
    finished frames ``[n_mels, until - done]`` (no later chunk may start before ``until``).
    A single chunk therefore comes back unchanged.
    """

    def __init__(self, n_mels: int, num_frames: int, chunk_frames: int) -> None:
        self.num_frames = num_frames
        self.window = crossfade_window(chunk_frames)  # [C]
        self.acc = np.zeros((n_mels, 0), np.float64)
        self.wsum = np.zeros(0, np.float64)
        self.done = 0  # absolute frame of acc[:, 0]

    def add(self, start: int, mel: np.ndarray) -> None:
        end = min(start + mel.shape[1], self.num_frames)
        if start < self.done:
            raise ValueError(f"chunk at {start} starts before the emitted frames ({self.done})")
        need = end - self.done
        if need > self.wsum.shape[0]:
            grow = need - self.wsum.shape[0]
            self.acc = np.concatenate([self.acc, np.zeros((self.acc.shape[0], grow))], axis=1)
            self.wsum = np.concatenate([self.wsum, np.zeros(grow)])
        w = self.window[: end - start]
        lo = start - self.done
        self.acc[:, lo : lo + w.shape[0]] += mel[:, : w.shape[0]] * w
        self.wsum[lo : lo + w.shape[0]] += w

    def pop(self, until: int) -> np.ndarray:
        n = max(0, min(until, self.done + self.wsum.shape[0]) - self.done)
        out = (self.acc[:, :n] / np.maximum(self.wsum[:n], 1e-12)).astype(np.float32)
        self.acc, self.wsum = self.acc[:, n:], self.wsum[n:]
        self.done += n
        return out


# --------------------------------------------------------------------------------------------
# Griffin-Lim in blocks
# --------------------------------------------------------------------------------------------


def griffin_lim(
    mel: torch.Tensor,
    settings: MelSettings,
    n_iter: int,
    seed: int = 0,
    init_angles: torch.Tensor | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """``mel_to_audio`` with a phase start: ``(audio [T*hop], angles [n_freqs, T+1])``.

    Identical to :func:`rvqvae.data.audio.mel_to_audio` when ``init_angles`` is None; otherwise
    the first ``init_angles.shape[1]`` frames start from the given unit phasors (continuity
    with the previous block).
    """
    with audio_mod.torch_threads(1):  # as mel_to_audio: small transforms competing for cores
        return audio_mod.griffin_lim(mel, settings, n_iter, seed, init_angles)


class StreamingGriffinLim:
    """Griffin-Lim over a long mel in blocks of ``block_frames`` with ``overlap`` context frames.

    Block k synthesises frames ``[kS - O, (k+1)S + O)``; its first 2O frames start from the
    phase the previous block ended with, and the two blocks' audio is crossfaded over those 2O
    frames (sin^2 fades summing to one). A mel of at most ``block_frames + overlap`` frames is
    one block, i.e. exactly ``mel_to_audio``. ``push`` mel blocks in order, collect the audio it
    returns, then ``finish``; the total is exactly ``num_samples`` samples.
    """

    def __init__(
        self,
        settings: MelSettings,
        num_frames: int,
        num_samples: int,
        n_iter: int = 32,
        seed: int = 0,
        block_frames: int = 1024,
        overlap: int = 32,
    ) -> None:
        self.settings, self.n_iter, self.seed = settings, int(n_iter), int(seed)
        self.num_frames, self.num_samples = int(num_frames), int(num_samples)
        self.overlap = max(1, int(overlap))
        self.block_frames = max(int(block_frames), 4 * self.overlap)
        self.mel = np.zeros((settings.n_mels, 0), np.float32)  # frames from mel0
        self.mel0 = 0
        self.k = 0
        self.tail = np.zeros(0, np.float32)  # previous block's audio past the emitted part
        self.prev_angles: torch.Tensor | None = None  # angles from abs frame prev_a
        self.prev_a = 0
        self.emitted = 0
        self.blocks_run = 0

    def _bounds(self, k: int) -> tuple[int, int]:
        s = k * self.block_frames
        return max(0, s - self.overlap), min(self.num_frames, s + self.block_frames + self.overlap)

    def _single(self) -> bool:
        return self.num_frames <= self.block_frames + self.overlap

    def push(self, mel_block: np.ndarray) -> list[np.ndarray]:
        self.mel = np.concatenate([self.mel, mel_block.astype(np.float32)], axis=1)
        out = []
        while self.k * self.block_frames < self.num_frames:
            a, b = self._bounds(self.k)
            if self.mel0 + self.mel.shape[1] < b:
                break
            out += self._run(a, b)
        return out

    def finish(self) -> list[np.ndarray]:
        out = self.push(np.zeros((self.settings.n_mels, 0), np.float32))
        if self.emitted < self.num_samples:  # not reached with a complete mel
            out.append(np.zeros(self.num_samples - self.emitted, np.float32))
            self.emitted = self.num_samples
        return out

    def _emit(self, y: np.ndarray) -> list[np.ndarray]:
        y = y[: max(0, self.num_samples - self.emitted)]
        self.emitted += y.shape[0]
        return [y] if y.size else []

    def _run(self, a: int, b: int) -> list[np.ndarray]:
        hop = self.settings.hop_length
        mel = torch.from_numpy(self.mel[:, a - self.mel0 : b - self.mel0])
        self.blocks_run += 1
        if self._single():
            y = audio_mod.mel_to_audio(mel, self.settings, self.n_iter, seed=self.seed)
            self.k += 1
            return self._emit(y)
        init = None
        if self.prev_angles is not None:
            init = self.prev_angles[:, a - self.prev_a :]
            init = init[:, : max(0, min(init.shape[1] - 1, b - a))]  # drop the repeated frame
        y, angles = griffin_lim(mel, self.settings, self.n_iter, self.seed + self.k, init)
        out: list[np.ndarray] = []
        if self.tail.size:
            n = min(self.tail.shape[0], y.shape[0])
            fade = np.sin(np.pi * (np.arange(n) + 0.5) / (2 * n)).astype(np.float32) ** 2
            out += self._emit(self.tail[:n] * (1 - fade) + y[:n] * fade)
            y = y[n:]
            start = a * hop + n  # absolute sample of y[0]
        else:
            start = a * hop
        self.k += 1
        if self.k * self.block_frames < self.num_frames:
            next_a = self._bounds(self.k)[0]
            keep = next_a * hop - start  # emit up to the next block's first sample
            out += self._emit(y[:keep])
            self.tail = y[keep:]
        else:
            out += self._emit(y)
            self.tail = np.zeros(0, np.float32)
        self.prev_angles, self.prev_a = angles, a
        drop = self._bounds(self.k)[0] if self.k * self.block_frames < self.num_frames else b
        drop -= self.mel0
        if drop > 0:
            self.mel, self.mel0 = self.mel[:, drop:], self.mel0 + drop
        return out
