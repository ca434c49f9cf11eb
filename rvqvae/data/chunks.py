"""Cutting log-mels into the model's chunks, and stitching chunk mels back together.

Training and evaluation: :func:`analyse_file` -> :func:`chunk_starts` (tail padding, silence) ->
:func:`slice_chunks`. Streaming encode/decode: :func:`chunk_plan` -> :func:`stream_chunks`, and
:class:`MelStitcher` (sin^2 overlap-add) on the way back.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from rvqvae.data.io import BadAudioFile, load_audio
from rvqvae.data.mel import MelSettings, audio_to_mel, frames_for

_DEFAULT_SETTINGS = MelSettings()  # frozen: a safe shared default


@dataclass
class FileFeatures:
    """Whole-file analysis: log-mel ``[n_mels, F]`` and per-frame mean-square power ``[F]``.

    ``frame_power[t]`` is the mean of ``audio[t*hop : (t+1)*hop] ** 2`` (zero padded), used to
    find silent chunks without decoding again.
    """

    mel: np.ndarray
    frame_power: np.ndarray
    num_samples: int = field(default=0)


def frame_power(audio: np.ndarray, hop_length: int) -> np.ndarray:
    """Mean-square power per hop-sized block: ``[ceil(samples / hop)]`` float32."""
    n_frames = frames_for(audio.shape[0], hop_length)
    padded = np.zeros(n_frames * hop_length, dtype=np.float32)
    padded[: audio.shape[0]] = audio
    return np.square(padded.reshape(n_frames, hop_length)).mean(axis=1, dtype=np.float32)


def analyse_file(
    path: str | os.PathLike[str], settings: MelSettings, normalize_peak: bool = True
) -> FileFeatures:
    """Decode one file (:func:`load_audio`) and compute its log-mel and frame powers."""
    audio = load_audio(path, settings.sample_rate, normalize_peak)
    return FileFeatures(
        mel=audio_to_mel(audio, settings),
        frame_power=frame_power(audio, settings.hop_length),
        num_samples=int(audio.shape[0]),
    )


def chunk_hop_frames(
    settings: MelSettings, chunk_duration_s: float, chunk_hop_s: float | None
) -> int:
    """Frames between chunk starts: ``round(hop_s * sample_rate / hop_length)`` (at least 1)."""
    hop_s = chunk_duration_s if chunk_hop_s is None else chunk_hop_s
    if hop_s <= 0 or chunk_duration_s <= 0:
        raise ValueError(f"chunk duration and hop must be > 0, got {chunk_duration_s}, {hop_s}")
    return max(1, round(hop_s * settings.sample_rate / settings.hop_length))


def chunk_starts(
    features: FileFeatures,
    chunk_frames: int,
    hop_frames: int,
    silence_threshold_db: float = -60.0,
    path: str | os.PathLike[str] = "<audio>",
) -> np.ndarray:
    """Start frames of the usable chunks of one file (``[N]`` int64).

    Chunks start every ``hop_frames`` frames. One zero-padded tail chunk is added when the
    frames after the last full chunk amount to at least half a chunk; a file shorter than one
    chunk always gives one padded chunk. A chunk is dropped as near-silent when the mean
    square of its real samples, in dB relative to full scale (absolute, measured after the
    optional peak normalisation), is below ``silence_threshold_db``.

    Raises:
        BadAudioFile: every chunk is silent.
    """
    n_frames = features.mel.shape[1]
    starts = np.arange(0, max(n_frames, 1), hop_frames)
    full = starts[starts + chunk_frames <= n_frames]
    covered = int(full[-1]) + chunk_frames if len(full) else 0
    partial = starts[starts + chunk_frames > n_frames][:1]  # the first padded window
    if len(full) == 0 or (len(partial) and 2 * (n_frames - covered) >= chunk_frames):
        full = np.concatenate([full, partial])
    starts = full
    real = np.minimum(starts + chunk_frames, n_frames) - starts
    csum = np.concatenate([[0.0], np.cumsum(features.frame_power, dtype=np.float64)])
    mean_sq = (csum[starts + real] - csum[starts]) / np.maximum(real, 1)
    db = 10 * np.log10(np.maximum(mean_sq, 1e-30))
    loud = db >= silence_threshold_db
    if not loud.any():
        raise BadAudioFile(
            path, f"all chunks are silent (below the {silence_threshold_db:g} dB threshold)"
        )
    return starts[loud].astype(np.int64)


def slice_chunks(mel: np.ndarray, starts: Iterable[int], chunk_frames: int) -> np.ndarray:
    """Cut ``[n_mels, F]`` into ``[N, 1, n_mels, chunk_frames]`` windows (zero padded)."""
    starts = np.asarray(list(starts), dtype=np.int64)
    n_mels, n_frames = mel.shape
    out = np.zeros((len(starts), 1, n_mels, chunk_frames), dtype=np.float32)
    for i, s in enumerate(starts):
        seg = mel[:, s : s + chunk_frames]
        out[i, 0, :, : seg.shape[1]] = seg
    return out


def file_to_chunks(
    path: str | os.PathLike[str],
    settings: MelSettings = _DEFAULT_SETTINGS,
    chunk_duration_s: float = 1.0,
    chunk_hop_s: float | None = None,
    silence_threshold_db: float = -60.0,
    normalize_peak: bool = True,
) -> np.ndarray:
    """Turn one audio file into the model's chunks ``[N, 1, n_mels, chunk_frames]`` float32.

    The inverse for previews is :func:`chunks_to_audio` (or :func:`mel_to_audio` per chunk).
    See :func:`chunk_starts` for the padding and silence rules.
    """
    feats = analyse_file(path, settings, normalize_peak)
    c = settings.chunk_frames(chunk_duration_s)
    hop = chunk_hop_frames(settings, chunk_duration_s, chunk_hop_s)
    return slice_chunks(feats.mel, chunk_starts(feats, c, hop, silence_threshold_db, path), c)


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
