"""Audio discovery, decoding and log-mel analysis/synthesis.

Everything the model sees is a log-mel chunk ``[1, n_mels, chunk_frames]`` of ``log1p(mel power)``
values (non-negative). The framing rule is: frame ``t`` is an FFT window *centred* on sample
``t * hop_length`` (zero padding outside the signal), and a signal of ``N`` samples has exactly
``frames_for(N) = ceil(N / hop_length)`` frames. At 48 kHz / hop 512 a 1.0 s chunk is therefore
``128 x 94``.

Import cost is kept low on purpose: this module imports only numpy and the standard library at
import time (torch, soundfile and soxr are imported on first use), because
:func:`count_audio_files` is called at Hydra config-composition time. librosa is never needed on
the hot paths: the Slaney mel filterbank is computed here with numpy (and tested against
``librosa.filters.mel``), the STFT and Griffin-Lim use torch.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        "wav",
        "wave",
        "flac",
        "ogg",
        "oga",
        "opus",
        "mp3",
        "aiff",
        "aif",
        "aifc",
        "au",
        "snd",
        "caf",
        "w64",
        "rf64",
    }
)
"""Lower-case file extensions (no dot) treated as audio. All are decoded by libsndfile."""

PEAK_TARGET = 0.95  # peak amplitude after ``normalize_peak``
SILENT_PEAK_DB = -100.0  # a file whose peak is below this (dBFS) is "all silent"
_STFT_BLOCK_FRAMES = 4096  # long signals are transformed in blocks of this many frames
_READ_BLOCK_FRAMES = 1 << 20  # decode long files in blocks of this many sample frames
_NNLS_ITERS = 50  # mel -> linear power refinement steps in mel_to_audio


class DatasetError(ValueError):
    """A dataset folder cannot be used; the message is one line naming the path."""


class BadAudioFile(ValueError):
    """One audio file cannot be used (corrupt, empty, silent, non-finite ...)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# --------------------------------------------------------------------------------------------
# Discovery (cheap: names and stat only, no decoding)
# --------------------------------------------------------------------------------------------


def _is_audio_name(name: str) -> bool:
    return not name.startswith(".") and name.rpartition(".")[2].lower() in AUDIO_EXTENSIONS


def discover_audio_files(path: str | os.PathLike[str]) -> list[Path]:
    """Sorted list of audio files under ``path`` (recursive, by extension, no decoding).

    Hidden files and folders (name starting with ``.``) are ignored.

    Raises:
        DatasetError: ``path`` is missing, is a file, is empty or holds no audio files.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset path {root} does not exist: expected a folder of audio files")
    if not root.is_dir():
        raise DatasetError(f"dataset path {root} is a file: expected a folder of audio files")
    files: list[Path] = []
    seen_any = False
    for dirpath, dirnames, filenames in os.walk(root):
        seen_any = seen_any or bool(dirnames or filenames)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files.extend(Path(dirpath) / f for f in filenames if _is_audio_name(f))
    if not files:
        exts = ", ".join(sorted(AUDIO_EXTENSIONS))
        what = "contains no audio files" if seen_any else "is empty"
        raise DatasetError(f"dataset folder {root} {what}: expected audio files ({exts})")
    return sorted(files)


def count_audio_files(path: str | os.PathLike[str]) -> int:
    """Number of audio files :func:`discover_audio_files` finds (cheap, no decoding)."""
    return len(discover_audio_files(path))


# --------------------------------------------------------------------------------------------
# Mel settings and framing
# --------------------------------------------------------------------------------------------


def frames_for(num_samples: int, hop_length: int = 512) -> int:
    """Number of centred frames for ``num_samples`` samples: ``ceil(num_samples / hop_length)``."""
    return -(-int(num_samples) // int(hop_length))


@dataclass(frozen=True)
class MelSettings:
    """Log-mel analysis parameters. Values are ``log1p(mel power)`` with a Slaney filterbank."""

    sample_rate: int = 48000
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None -> sample_rate / 2
    power: float = 2.0

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MelSettings.{name} must be a positive integer, got {value!r}")
        if self.hop_length > self.n_fft:
            raise ValueError(f"hop_length ({self.hop_length}) must be <= n_fft ({self.n_fft})")
        if not 0.0 <= self.fmin < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin}, fmax={self.fmax}"
            )
        if self.power <= 0:
            raise ValueError(f"power must be > 0, got {self.power}")

    @property
    def f_max(self) -> float:
        """Resolved upper mel frequency (Hz)."""
        return float(self.sample_rate / 2 if self.fmax is None else self.fmax)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def frames_for(self, num_samples: int) -> int:
        """Frames for ``num_samples`` samples (``ceil(num_samples / hop_length)``)."""
        return frames_for(num_samples, self.hop_length)

    def chunk_frames(self, duration_s: float) -> int:
        """Frames of a chunk of ``duration_s`` seconds (94 for 1.0 s at 48 kHz / hop 512)."""
        return self.frames_for(round(duration_s * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# Mel filterbank (Slaney, identical to librosa.filters.mel(htk=False, norm="slaney"))
# --------------------------------------------------------------------------------------------

_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_region = hz >= _MIN_LOG_HZ
    mel[log_region] = _MIN_LOG_MEL + np.log(hz[log_region] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * _F_SP
    log_region = mel >= _MIN_LOG_MEL
    hz[log_region] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[log_region] - _MIN_LOG_MEL))
    return hz


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cached(settings: MelSettings) -> np.ndarray:
    fft_freqs = np.linspace(0.0, settings.sample_rate / 2, settings.n_freqs)
    mel_pts = np.linspace(
        _hz_to_mel(np.array([settings.fmin]))[0],
        _hz_to_mel(np.array([settings.f_max]))[0],
        settings.n_mels + 2,
    )
    mel_f = _mel_to_hz(mel_pts)  # [n_mels + 2] band edges (Hz)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # Slaney area normalisation
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


def mel_filterbank(settings: MelSettings) -> np.ndarray:
    """Slaney mel filterbank ``[n_mels, n_fft // 2 + 1]`` float32 (cached, read-only)."""
    return _mel_filterbank_cached(settings)


@functools.lru_cache(maxsize=16)
def _torch_filterbank(settings: MelSettings) -> Tensor:
    import torch

    return torch.from_numpy(mel_filterbank(settings).copy())


@functools.lru_cache(maxsize=16)
def _torch_filterbank_pinv(settings: MelSettings) -> Tensor:
    import torch

    return torch.linalg.pinv(_torch_filterbank(settings).double()).float()  # [F, n_mels]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily set torch's (process-wide) intra-op thread count to ``n``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=4)
def _hann(n_fft: int) -> Tensor:
    import torch

    return torch.hann_window(n_fft)


# --------------------------------------------------------------------------------------------
# Analysis: audio -> log-mel
# --------------------------------------------------------------------------------------------


def audio_to_mel_torch(audio: Tensor, settings: MelSettings = MelSettings()) -> Tensor:
    """``log1p(mel power)`` of ``audio [..., samples]`` -> ``[..., n_mels, ceil(samples / hop)]``.

    Frames are centred on ``t * hop_length`` with zero padding; long signals are transformed in
    blocks so memory stays bounded (a 10 min file does not materialise its full STFT).
    """
    import torch

    lead = audio.shape[:-1]
    x = audio.reshape(-1, audio.shape[-1]).float()  # [B, N]
    n, hop, n_fft = x.shape[-1], settings.hop_length, settings.n_fft
    n_frames = frames_for(n, hop)
    out = x.new_zeros(x.shape[0], settings.n_mels, n_frames)
    if n_frames == 0:
        return out.reshape(*lead, settings.n_mels, 0)
    # Zero-pad so that frame t covers padded[t*hop : t*hop + n_fft] (centred on sample t*hop).
    right = (n_frames - 1) * hop + n_fft - (n + n_fft // 2)
    padded = torch.nn.functional.pad(x, (n_fft // 2, max(0, right)))
    for f0 in range(0, n_frames, _STFT_BLOCK_FRAMES):
        f1 = min(n_frames, f0 + _STFT_BLOCK_FRAMES)
        out[:, :, f0:f1] = mel_frames(padded[:, f0 * hop : (f1 - 1) * hop + n_fft], settings)
    return out.reshape(*lead, settings.n_mels, n_frames)


def mel_frames(segment: Tensor, settings: MelSettings) -> Tensor:
    """``log1p(mel power)`` of the frames that fit in ``segment [B, S]`` from its start (no
    centring or padding): ``[B, n_mels, 1 + (S - n_fft) // hop]``."""
    import torch

    window = _hann(settings.n_fft).to(segment.device)
    fb = _torch_filterbank(settings).to(segment.device)  # [n_mels, n_freqs]
    spec = torch.stft(
        segment,
        settings.n_fft,
        settings.hop_length,
        window=window,
        center=False,
        return_complex=True,
    )
    mag = spec.abs()  # [B, n_freqs, frames]
    spec_p = mag.square() if settings.power == 2.0 else mag.pow(settings.power)
    return torch.log1p(torch.matmul(fb, spec_p))


def audio_to_mel(audio: np.ndarray, settings: MelSettings = MelSettings()) -> np.ndarray:
    """``audio [samples]`` float -> log-mel ``[n_mels, ceil(samples / hop)]`` float32 (>= 0)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D [samples], got shape {tuple(x.shape)}")
    return audio_to_mel_torch(x, settings).numpy()


# --------------------------------------------------------------------------------------------
# Synthesis: log-mel -> audio (previews, codec)
# --------------------------------------------------------------------------------------------


def mel_to_audio(
    mel: np.ndarray | Tensor,
    settings: MelSettings = MelSettings(),
    n_iter: int = 32,
    length: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Invert a log-mel ``[n_mels, frames]`` to audio ``[samples]`` float32 (approximate).

    ``expm1`` undoes ``log1p``; the mel power is mapped to linear frequencies by non-negative
    least squares (pseudo-inverse start, multiplicative updates), and the phase is estimated
    with ``n_iter`` iterations of fast Griffin-Lim (momentum 0.99, deterministic for ``seed``).
    The output has ``frames * hop_length`` samples unless ``length`` is given.
    """
    # One intra-op thread: these transforms are small, and multi-threaded torch ops slow down
    # several-fold when other processes compete for the cores (previews run mid-training).
    with torch_threads(1):
        return _mel_to_audio(mel, settings, n_iter, length, seed)


def _mel_to_audio(
    mel: np.ndarray | Tensor, settings: MelSettings, n_iter: int, length: int | None, seed: int
) -> np.ndarray:
    import torch

    m = torch.as_tensor(np.asarray(mel) if not isinstance(mel, torch.Tensor) else mel)
    m = m.detach().float().cpu()
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2 or m.shape[0] != settings.n_mels:
        raise ValueError(f"mel must be [n_mels={settings.n_mels}, frames], got {tuple(m.shape)}")
    n_frames = m.shape[1]
    out_len = n_frames * settings.hop_length if length is None else int(length)
    if n_frames == 0:
        return np.zeros(out_len, dtype=np.float32)
    y, _ = griffin_lim(m, settings, n_iter, seed)
    if out_len != y.shape[0]:
        y = y[:out_len] if out_len < y.shape[0] else np.pad(y, (0, out_len - y.shape[0]))
    return y


def griffin_lim(
    mel: Tensor,
    settings: MelSettings,
    n_iter: int = 32,
    seed: int = 0,
    init_angles: Tensor | None = None,
) -> tuple[np.ndarray, Tensor]:
    """Log-mel ``[n_mels, T]`` (T >= 1) -> (audio ``[T * hop]``, phase angles ``[n_freqs, T+1]``).

    ``expm1`` undoes ``log1p``; the mel power is mapped to linear frequencies by non-negative
    least squares (pseudo-inverse start, multiplicative updates), and the phase is estimated with
    ``n_iter`` iterations of fast Griffin-Lim (momentum 0.99) from random angles (``seed``), whose
    first frames are replaced by ``init_angles`` when given (block-wise streaming continues the
    previous block's phase this way). Runs in the caller's torch thread settings.
    """
    import torch

    n_fft, hop = settings.n_fft, settings.hop_length
    m = mel.float().contiguous()
    n_frames = m.shape[1]
    power = torch.expm1(m.clamp(min=0))  # [n_mels, T]
    fb = _torch_filterbank(settings)  # [n_mels, n_freqs]
    lin = (_torch_filterbank_pinv(settings) @ power).clamp(min=0)  # [n_freqs, T]
    # Non-negative least squares refinement (multiplicative updates) of fb @ lin = power.
    lin = lin + 1e-6 * power.mean() + 1e-12
    numer = fb.T @ power
    for _ in range(_NNLS_ITERS):
        lin = lin * numer / (fb.T @ (fb @ lin) + 1e-10)
    mag = lin.pow(1.0 / settings.power)
    # torch.stft(center=True) of L = T*hop samples has T+1 frames: repeat the last frame.
    mag = torch.cat([mag, mag[:, -1:]], dim=1).to(torch.complex64)  # [n_freqs, T+1]
    sig_len = n_frames * hop
    window = _hann(n_fft)

    def stft(y: Tensor) -> Tensor:
        return torch.stft(
            y, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
        )

    def istft(s: Tensor) -> Tensor:
        return torch.istft(s, n_fft, hop, window=window, center=True, length=sig_len)

    gen = torch.Generator().manual_seed(seed)
    phase = torch.rand(mag.shape, generator=gen) * (2 * math.pi)
    angles = torch.polar(torch.ones_like(phase), phase)
    if init_angles is not None:
        k = min(init_angles.shape[1], angles.shape[1])
        angles[:, :k] = init_angles[:, :k]
    momentum = 0.99 / (1 + 0.99)
    prev = torch.zeros_like(angles)
    for _ in range(max(0, n_iter)):
        rebuilt = stft(istft(mag * angles))
        angles = rebuilt - momentum * prev
        angles = angles / (angles.abs() + 1e-16)
        prev = rebuilt
    return istft(mag * angles).numpy().astype(np.float32), angles


def chunks_to_audio(
    chunks: np.ndarray | Tensor, settings: MelSettings = MelSettings(), n_iter: int = 32
) -> np.ndarray:
    """Concatenate non-overlapping chunks ``[N, 1, n_mels, T]`` in time and invert to audio."""
    import torch

    c = torch.as_tensor(np.asarray(chunks) if not isinstance(chunks, torch.Tensor) else chunks)
    if c.ndim == 4:
        c = c[:, 0]
    if c.ndim != 3:
        raise ValueError(f"chunks must be [N, 1, n_mels, T], got {tuple(c.shape)}")
    mel = c.permute(1, 0, 2).reshape(c.shape[1], -1)  # [n_mels, N * T]
    return mel_to_audio(mel, settings, n_iter=n_iter)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

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
# Per-file features and chunking
# --------------------------------------------------------------------------------------------


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
    settings: MelSettings = MelSettings(),
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
