"""Reading audio files: checks, decoding to mono float32, resampling and peak normalisation.

Imports only numpy and the standard library at import time (soundfile, soxr and audioread are
imported on first use).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

PEAK_TARGET = 0.95  # peak amplitude after ``normalize_peak``
SILENT_PEAK_DB = -100.0  # a file whose peak is below this (dBFS) is "all silent"
_READ_BLOCK_FRAMES = 1 << 20  # decode long files in blocks of this many sample frames
DEFAULT_BLOCK_SAMPLES = 1 << 18  # audio samples read per block (~5.5 s at 48 kHz)


class BadAudioFile(ValueError):
    """One audio file cannot be used (corrupt, empty, silent, non-finite ...)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


_FALLBACK_EXTENSIONS = {"mp3", "ogg", "oga", "opus"}


def _check_riff_truncation(path: Path) -> None:
    """Raise BadAudioFile if a RIFF/WAVE header declares more audio data than the file holds."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                if csize not in (0, 0xFFFFFFFF) and pos + 8 + csize > size:
                    have = size - pos - 8
                    raise BadAudioFile(
                        path, f"truncated: header declares {csize} audio bytes, file holds {have}"
                    )
                return
            pos += 8 + csize + (csize & 1)


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode to mono float32 at the file's own rate (blockwise, so long files stay small)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            sr = int(f.samplerate)
            blocks = []
            while True:
                block = f.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    raise BadAudioFile(path, "contains NaN or infinite samples")
                blocks.append(
                    block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                )
        audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
        return audio, sr
    except BadAudioFile:
        raise
    except Exception as err:  # libsndfile: corrupt header, unknown format ...
        if path.suffix.lower().lstrip(".") in _FALLBACK_EXTENSIONS:
            try:
                return _decode_audioread(path)
            except Exception:
                pass
        msg = str(err).replace(str(path), "").replace("Error opening ''", "").strip(" :")
        if "not a regular file" in msg:  # libsndfile's wording for undecodable MPEG data
            msg = "corrupt or unsupported data"
        raise BadAudioFile(path, f"cannot be decoded ({msg or type(err).__name__})") from None


def _decode_audioread(path: Path) -> tuple[np.ndarray, int]:
    import audioread

    with audioread.audio_open(str(path)) as f:
        sr, ch = int(f.samplerate), int(f.channels)
        raw = b"".join(f)
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return pcm.reshape(-1, ch).mean(axis=1, dtype=np.float32), sr


def load_audio(
    path: str | os.PathLike[str], sample_rate: int = 48000, normalize_peak: bool = True
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (``[samples]``).

    Channels are averaged (stereo, 5.1, ...); resampling uses soxr (high quality). With
    ``normalize_peak`` the peak is scaled to ``PEAK_TARGET`` (0.95).

    Raises:
        BadAudioFile: empty or zero-length, corrupt or truncated, NaN/inf samples, or all silent
            (peak below ``SILENT_PEAK_DB`` = -100 dBFS).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as err:
        raise BadAudioFile(p, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise BadAudioFile(p, "file is empty (0 bytes)")
    _check_riff_truncation(p)
    audio, sr = _decode(p)
    if audio.size == 0:
        raise BadAudioFile(p, "contains no samples (zero length)")
    if not np.isfinite(audio).all():
        raise BadAudioFile(p, "contains NaN or infinite samples")
    peak = float(np.max(np.abs(audio)))
    if peak <= 10 ** (SILENT_PEAK_DB / 20):
        raise BadAudioFile(p, f"is silent (peak below {SILENT_PEAK_DB:g} dBFS)")
    if sr != sample_rate:
        import soxr

        audio = soxr.resample(audio, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
        if audio.size == 0:
            raise BadAudioFile(p, "contains no samples after resampling (too short)")
        peak = float(np.max(np.abs(audio)))
    if normalize_peak and peak > 0:
        audio = audio * np.float32(PEAK_TARGET / peak)
    return np.ascontiguousarray(audio, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Audio: two passes over the file in blocks (peak and length first, then the samples)
# --------------------------------------------------------------------------------------------


class AudioReader:
    """Mono float32 blocks of ``path`` at ``sample_rate``, peak-normalised like ``load_audio``.

    The constructor scans the file once (length, finiteness, peak - after resampling when the
    file's rate differs); :meth:`blocks` then yields ``[<= block_samples]`` blocks. Files that
    libsndfile cannot stream (audioread fallback formats) are decoded whole by ``load_audio``.

    Raises:
        BadAudioFile: the same conditions as :func:`load_audio`.
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
        _check_riff_truncation(self.path)
        try:
            import soundfile as sf

            with sf.SoundFile(str(self.path)) as f:
                self.source_sample_rate = int(f.samplerate)
        except Exception:
            self._fallback()
            return
        self._scan()

    def _fallback(self) -> None:
        audio = load_audio(self.path, self.sample_rate, normalize_peak=False)
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
        if src_peak <= 10 ** (SILENT_PEAK_DB / 20):
            raise BadAudioFile(self.path, f"is silent (peak below {SILENT_PEAK_DB:g} dBFS)")
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
    return float(np.float32(PEAK_TARGET / peak)) if peak > 0 else 1.0
