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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

MEL_BLOCK_FRAMES = 4096  # frames per STFT call: long signals are transformed in blocks


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

    @classmethod
    def from_config(cls, dataset: Mapping[str, Any]) -> MelSettings:
        """Settings from a dataset config node (``sample_rate``, ``n_fft``, ``hop_length``,
        ``n_mels``, ``fmin``, ``fmax``; absent keys take the defaults).

        Raises:
            ValueError: a value is not a number or out of range (one line naming the key).
        """
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            value = dataset.get(f.name)
            if value is None or f.name == "power":
                continue
            try:
                kwargs[f.name] = int(value) if f.type == "int" else float(value)
            except (TypeError, ValueError):
                raise ValueError(f"dataset.{f.name} must be a number, got {value!r}") from None
        return cls(**kwargs)

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


def audio_to_mel_torch(audio: Tensor, settings: MelSettings = MelSettings()) -> Tensor:
    """``log1p(mel power)`` of ``audio [..., samples]`` -> ``[..., n_mels, ceil(samples / hop)]``.

    Frames are centred on ``t * hop_length`` with zero padding (:func:`centred_mel_blocks`);
    long signals are transformed in blocks so that a 10 min file does not materialise its
    full STFT.
    """
    lead = audio.shape[:-1]
    x = audio.reshape(-1, audio.shape[-1]).float()  # [B, N]
    parts = list(centred_mel_blocks([x], x.shape[-1], settings))
    if not parts:
        return x.new_zeros(*lead, settings.n_mels, 0)
    import torch

    return torch.cat(parts, dim=-1).reshape(*lead, settings.n_mels, -1)


def centred_mel_blocks(
    blocks: Iterable[Tensor], num_samples: int, settings: MelSettings
) -> Iterator[Tensor]:
    """The framing rule, once: log-mel blocks ``[B, n_mels, f]`` of a signal given as sample
    blocks ``[B, s]`` (``num_samples`` in all).

    Frame ``t`` is the window of absolute samples ``[t*hop - n_fft//2, t*hop - n_fft//2 +
    n_fft)``, i.e. centred on ``t * hop`` with zero padding outside the signal; there are
    ``frames_for(num_samples)`` frames, transformed at most ``MEL_BLOCK_FRAMES`` per STFT call
    and emitted as soon as their samples have arrived (only a window's worth is buffered).
    """
    import torch

    hop, n_fft = settings.hop_length, settings.n_fft
    half = n_fft // 2
    total = frames_for(num_samples, hop)
    buf: Tensor | None = None  # samples from absolute index buf_start (starts with half zeros)
    buf_start = -half
    next_frame = 0

    def ready(avail_end: int) -> int:
        return min(total, max(0, (avail_end - n_fft + half) // hop + 1))

    def emit(buf: Tensor, last: int) -> Iterator[Tensor]:
        nonlocal next_frame
        while next_frame < last:
            f1 = min(last, next_frame + MEL_BLOCK_FRAMES)
            lo = next_frame * hop - half - buf_start
            hi = (f1 - 1) * hop + n_fft - half - buf_start
            yield mel_frames(buf[:, lo:hi], settings)
            next_frame = f1

    for block in blocks:
        if buf is None:
            buf = block.new_zeros(block.shape[0], half)
        buf = torch.cat([buf, block.to(buf.dtype)], dim=1)
        yield from emit(buf, ready(buf_start + buf.shape[1]))
        drop = next_frame * hop - half - buf_start
        if drop > 0:
            buf, buf_start = buf[:, drop:], buf_start + drop
    if buf is None:
        buf = torch.zeros(1, half)
    need = (total - 1) * hop - half + n_fft  # absolute end of the last frame's window
    pad = need - (buf_start + buf.shape[1])
    if pad > 0:
        buf = torch.nn.functional.pad(buf, (0, pad))
    yield from emit(buf, total)


def stream_mel(
    blocks: Iterable[np.ndarray], num_samples: int, settings: MelSettings
) -> Iterator[np.ndarray]:
    """Log-mel blocks ``[n_mels, f]`` of a mono signal given as numpy sample blocks; they
    concatenate to ``audio_to_mel(whole_signal)`` (:func:`centred_mel_blocks`)."""
    import torch

    tensors = (torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))[None] for b in blocks)
    for mel in centred_mel_blocks(tensors, num_samples, settings):
        yield mel[0].numpy()
