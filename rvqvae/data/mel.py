"""Log-mel analysis: settings, the Slaney filterbank, centred framing, whole-signal and
streaming log-mel.

Everything the model sees is a log-mel chunk ``[1, n_mels, chunk_frames]`` of ``log1p(mel power)``
values (non-negative). The framing rule is: frame ``t`` is an FFT window *centred* on sample
``t * hop_length`` (zero padding outside the signal), and a signal of ``N`` samples has exactly
``frames_for(N) = ceil(N / hop_length)`` frames. At 48 kHz / hop 512 a 1.0 s chunk is therefore
``128 x 94``.

torch is imported on first use. librosa is never needed: the Slaney mel filterbank is computed
here with numpy (and tested against ``librosa.filters.mel``), the STFT uses torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

_STFT_BLOCK_FRAMES = 4096  # long signals are transformed in blocks of this many frames


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


def _mel_frames(segment: np.ndarray, settings: MelSettings) -> np.ndarray:
    """Log-mel of consecutive frames from a segment starting at a frame's window start."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))[None]  # [1, S]
    return mel_frames(x, settings)[0].numpy()  # [n_mels, f]


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
