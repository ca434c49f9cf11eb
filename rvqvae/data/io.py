"""Reading audio files: the one reader (checks, block-wise decoding to mono float32, resampling,
peak normalisation) and :func:`load_audio` built on it.

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
DEFAULT_BLOCK_SAMPLES = 1 << 18  # audio samples read per block (~5.5 s at 48 kHz)
_FALLBACK_EXTENSIONS = {"mp3", "ogg", "oga", "opus"}  # decoded by audioread if libsndfile fails


class BadAudioFile(ValueError):
    """One audio file cannot be used (corrupt, empty, silent, non-finite ...)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


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


def _check_file(path: Path) -> None:
    """The checks made before decoding: readable, not empty, not a truncated WAV."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise BadAudioFile(path, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise BadAudioFile(path, "file is empty (0 bytes)")
    _check_riff_truncation(path)


def _decode_error(path: Path, err: Exception) -> BadAudioFile:
    """One-line ``cannot be decoded (...)`` from a decoder's exception (path not repeated)."""
    msg = str(err).replace(str(path), "").replace("Error opening ''", "").strip(" :")
    if "not a regular file" in msg:  # libsndfile's wording for undecodable MPEG data
        msg = "corrupt or unsupported data"
    msg = " ".join((msg or type(err).__name__).split())  # one line
    return BadAudioFile(path, f"cannot be decoded ({msg})")


def _decode_audioread(path: Path) -> tuple[np.ndarray, int]:
    import audioread

    with audioread.audio_open(str(path)) as f:
        sr, ch = int(f.samplerate), int(f.channels)
        raw = b"".join(f)
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return pcm.reshape(-1, ch).mean(axis=1, dtype=np.float32), sr


def _resample(blocks: Iterable[np.ndarray], src_rate: int, rate: int) -> Iterator[np.ndarray]:
    """``blocks`` at ``rate`` (a soxr HQ stream when the rates differ)."""
    if src_rate == rate:
        yield from blocks
        return
    import soxr

    stream = soxr.ResampleStream(src_rate, rate, 1, dtype="float32", quality="HQ")
    for block in blocks:
        out = stream.resample_chunk(block, last=False)
        if out.size:
            yield out.astype(np.float32, copy=False)
    out = stream.resample_chunk(np.zeros(0, np.float32), last=True)
    if out.size:
        yield out.astype(np.float32, copy=False)


def peak_gain(peak: float) -> float:
    """Gain that peak normalisation applies for a given peak (``PEAK_TARGET / peak``)."""
    return float(np.float32(PEAK_TARGET / peak)) if peak > 0 else 1.0


class AudioReader:
    """Mono float32 blocks of ``path`` at ``sample_rate``, optionally peak-normalised.

    Channels are averaged (stereo, 5.1, ...); resampling is a soxr HQ stream. The constructor
    checks and scans the file once in blocks (length, finiteness, peak after resampling);
    :meth:`blocks` then yields blocks totalling ``num_samples`` (each ``block_samples``
    samples at the file's own rate, resampled), so a long file never exists in memory as a
    whole. Files libsndfile cannot decode with an audioread extension (mp3, ogg, oga, opus)
    are decoded whole by audioread instead.
    ``keep_samples`` keeps the scanned blocks so that :meth:`read` needs no second pass.

    Raises:
        BadAudioFile: unreadable, empty or zero-length, corrupt or truncated, NaN/inf samples,
            all silent (peak below ``SILENT_PEAK_DB`` = -100 dBFS), or no samples after
            resampling. The message is one line naming the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        normalize_peak: bool = True,
        block_samples: int = DEFAULT_BLOCK_SAMPLES,
        *,
        keep_samples: bool = False,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.normalize_peak = bool(normalize_peak)
        self.block_samples = max(1, int(block_samples))
        self._whole: np.ndarray | None = None  # audioread fallback: the fully decoded file
        self._kept: list[np.ndarray] | None = None
        self.blocks_read = 0  # blocks yielded by the last blocks() pass (for tests)
        _check_file(self.path)
        try:
            import soundfile as sf

            with sf.SoundFile(str(self.path)) as f:
                self.source_sample_rate = int(f.samplerate)
        except Exception as err:  # libsndfile: corrupt header, unknown format ...
            self._fallback(err)
        try:
            self._scan(keep_samples)
        except BadAudioFile:
            raise
        except Exception as err:  # libsndfile failed mid-file
            self._fallback(err)
            self._scan(keep_samples)

    def _fallback(self, err: Exception) -> None:
        """Decode the whole file with audioread, or raise ``err`` as one line."""
        if self._whole is None and self.path.suffix.lower().lstrip(".") in _FALLBACK_EXTENSIONS:
            try:
                self._whole, self.source_sample_rate = _decode_audioread(self.path)
                return
            except Exception:
                pass
        raise _decode_error(self.path, err) from None

    def _raw_blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 blocks at the file's own rate (NaN/inf samples raise)."""
        if self._whole is not None:
            for i in range(0, self._whole.shape[0], self.block_samples):
                yield self._whole[i : i + self.block_samples]
            return
        import soundfile as sf

        with sf.SoundFile(str(self.path)) as f:
            while True:
                block = f.read(self.block_samples, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                if not np.isfinite(block).all():
                    raise BadAudioFile(self.path, "contains NaN or infinite samples")
                if block.shape[1] > 1:
                    yield block.mean(axis=1, dtype=np.float32)
                else:
                    yield np.ascontiguousarray(block[:, 0])

    def _scan(self, keep: bool) -> None:
        src = [0, 0.0]  # samples and peak at the file's own rate

        def counted() -> Iterator[np.ndarray]:
            for block in self._raw_blocks():
                src[0] += block.shape[0]
                src[1] = max(src[1], float(np.max(np.abs(block))))
                yield block

        kept: list[np.ndarray] = []
        n, peak = 0, 0.0
        for block in _resample(counted(), self.source_sample_rate, self.sample_rate):
            n += block.shape[0]
            peak = max(peak, float(np.max(np.abs(block))))
            if keep:
                kept.append(block)
        if src[0] == 0:
            raise BadAudioFile(self.path, "contains no samples (zero length)")
        if src[1] <= 10 ** (SILENT_PEAK_DB / 20):
            raise BadAudioFile(self.path, f"is silent (peak below {SILENT_PEAK_DB:g} dBFS)")
        if n == 0:
            raise BadAudioFile(self.path, "contains no samples after resampling (too short)")
        self.source_num_samples, self.num_samples = int(src[0]), n
        self.gain = peak_gain(peak) if self.normalize_peak else 1.0
        self._kept = kept if keep else None

    def blocks(self) -> Iterator[np.ndarray]:
        """Scaled mono float32 blocks totalling ``num_samples`` (see the class docstring)."""
        self.blocks_read = 0
        gain = np.float32(self.gain)
        source = self._resample_again() if self._kept is None else iter(self._kept)
        for block in source:
            self.blocks_read += 1
            yield block * gain if self.normalize_peak else block

    def _resample_again(self) -> Iterator[np.ndarray]:
        return _resample(self._raw_blocks(), self.source_sample_rate, self.sample_rate)

    def read(self) -> np.ndarray:
        """The whole signal ``[num_samples]`` float32 (from the kept blocks when kept)."""
        out = np.concatenate(list(self.blocks()))
        self._kept = None
        return np.ascontiguousarray(out, dtype=np.float32)


def load_audio(
    path: str | os.PathLike[str], sample_rate: int = 48000, normalize_peak: bool = True
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (``[samples]``) with :class:`AudioReader`
    in one pass; with ``normalize_peak`` the peak is scaled to ``PEAK_TARGET`` (0.95).

    Raises:
        BadAudioFile: see :class:`AudioReader`.
    """
    return AudioReader(path, sample_rate, normalize_peak, keep_samples=True).read()
