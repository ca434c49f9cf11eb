"""Export-safe vocoder: log-mel ``[B, n_mels, T]`` -> audio ``[B, T * hop]``.

ONNX has no ISTFT and no complex tensors, so the generator's head is followed here by an
inverse real DFT written as two matrix products (cosine and sine bases, the Hann window folded
in), an overlap-add of ``n_fft / hop`` shifted frame slices and the window-envelope division of
``torch.istft(center=True)``. The backbone and head are the trained generator's own modules;
tests check the graph equals :meth:`VocosGenerator.forward` (``torch.istft``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.export import ExportError
from rvqvae.vocoder.model import _MAX_MAGNITUDE, VocosGenerator


def inverse_dft_bases(n_fft: int, window: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos [F, n_fft], sin [F, n_fft])`` with ``frame = (re @ cos + im @ sin)`` equal to
    ``irfft(re + i im, n_fft) * window`` (DC and Nyquist imaginary parts ignored, like irfft)."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    scale = torch.full((n_fft // 2 + 1, 1), 2.0 / n_fft, dtype=torch.float64)
    scale[0] = scale[-1] = 1.0 / n_fft
    angle = 2 * math.pi * k * n / n_fft
    win = window.double()[None, :]
    return (scale * torch.cos(angle) * win).float(), (-scale * torch.sin(angle) * win).float()


def _overlap_add(frames: Tensor, ratio: int) -> Tensor:
    """Frames ``[B, T, ratio * hop]`` at hop ``hop`` -> signal ``[B, (T + ratio - 1) * hop]``."""
    b, t, n = frames.shape
    parts = frames.reshape(b, t, ratio, n // ratio)
    out = F.pad(parts[:, :, 0], (0, 0, 0, ratio - 1))
    for j in range(1, ratio):
        out = out + F.pad(parts[:, :, j], (0, 0, j, ratio - 1 - j))
    return out.reshape(b, -1)


def _expm1(x: Tensor) -> Tensor:
    """``expm1`` from ops ONNX has (it lacks Expm1): ``2 tanh(x/2) / (1 - tanh(x/2))`` below 1
    (no cancellation near 0), ``exp(x) - 1`` above (no cancellation in ``1 - tanh``)."""
    t = torch.tanh(0.5 * x.clamp(max=1.0))
    return torch.where(x < 1.0, 2.0 * t / (1.0 - t), torch.exp(x) - 1.0)


class VocoderGraph(nn.Module):
    """The trained :class:`VocosGenerator` with an export-safe ISTFT."""

    def __init__(self, generator: VocosGenerator) -> None:
        super().__init__()
        n_fft, hop = generator.n_fft, generator.hop_length
        if n_fft % hop:
            raise ExportError(
                f"n_fft {n_fft} is not a multiple of hop {hop}: the export-safe overlap-add "
                "needs whole hops per frame"
            )
        self.gen = generator
        self.ratio = n_fft // hop
        self.hop = hop
        self.mel_skip = bool(generator.hparams["mel_skip"])
        window = torch.hann_window(n_fft)
        cos, sin = inverse_dft_bases(n_fft, window)
        self.register_buffer("cos_basis", cos)
        self.register_buffer("sin_basis", sin)
        self.register_buffer("window_sq", window.square())

    def magnitude_phase(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """The generator's magnitude and phase ``[B, n_fft // 2 + 1, T]`` (its ``spectrum``)."""
        g = self.gen
        x = g.embed(mel)
        x = g.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in g.blocks:
            x = block(x)
        x = g.head(g.final_norm(x.transpose(1, 2))).transpose(1, 2)
        log_mag, phase = x.float().chunk(2, dim=1)
        if self.mel_skip:
            power = torch.matmul(g.mel_pinv, _expm1(mel.float().clamp(min=0)))
            log_mag = log_mag + 0.5 * torch.log(power.clamp(min=1e-8))
        return torch.exp(log_mag).clamp(max=_MAX_MAGNITUDE), phase

    def forward(self, mel: Tensor) -> Tensor:
        mag, phase = self.magnitude_phase(mel)
        re = (mag * torch.cos(phase)).transpose(1, 2)  # [B, T, F]
        im = (mag * torch.sin(phase)).transpose(1, 2)
        frames = torch.matmul(re, self.cos_basis) + torch.matmul(im, self.sin_basis)
        signal = _overlap_add(frames, self.ratio)
        envelope = _overlap_add(self.window_sq.expand_as(frames[:1]), self.ratio)
        start = self.ratio * self.hop // 2
        length = mel.shape[-1] * self.hop
        return signal[:, start : start + length] / envelope[:, start : start + length]
