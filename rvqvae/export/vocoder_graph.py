"""Export-safe vocoder: log-mel ``[B, n_mels, T]`` -> audio ``[B, T * hop]``.

ONNX has no ISTFT and no complex tensors, so the generator's head is followed here by an
inverse real DFT written as matrix products (:class:`InverseRealDFT`), the Hann window, an
overlap-add of ``n_fft / hop`` shifted frame slices and the window-envelope division of
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


def _split(n: int) -> int:
    """The largest divisor of ``n`` not above ``sqrt(n)`` (32 for 2048)."""
    return max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)


class InverseRealDFT(nn.Module):
    """``irfft(re + i im, n_fft)`` of frames ``[B, T, n_fft // 2 + 1]`` from matrix products
    only (ONNX has no complex tensors): one Cooley-Tukey step ``n_fft = n1 * n2`` (inner DFTs of
    size n2, twiddles, outer DFTs of size n1 keeping the real part), about 6x fewer operations
    than one dense ``[F, n_fft]`` basis at 2048. The imaginary parts of DC and Nyquist are
    ignored, as irfft does."""

    def __init__(self, n_fft: int) -> None:
        super().__init__()
        self.n_fft, self.n1 = n_fft, _split(n_fft)
        n1, n2 = self.n1, n_fft // self.n1
        k1 = torch.arange(n1, dtype=torch.float64)
        k2 = torch.arange(n2, dtype=torch.float64)
        scale = torch.full((n_fft // 2 + 1,), 2.0 / n_fft, dtype=torch.float64)
        scale[0] = scale[-1] = 1.0 / n_fft
        angles = {
            "inner": 2 * math.pi * k2[:, None] * k2[None, :] / n2,  # [k2, m2]
            "twiddle": 2 * math.pi * k1[:, None] * k2[None, :] / n_fft,  # [k1, m2]
            "outer": 2 * math.pi * k1[:, None] * k1[None, :] / n1,  # [m1, k1]
        }
        for name, angle in angles.items():
            self.register_buffer(f"{name}_cos", torch.cos(angle).float())
            self.register_buffer(f"{name}_sin", torch.sin(angle).float())
        self.register_buffer("scale", scale.float())

    def forward(self, re: Tensor, im: Tensor) -> Tensor:
        b, t, f = re.shape
        n1, n2, pad = self.n1, self.n_fft // self.n1, self.n_fft - f
        # Y[k] = scale_k X_k for k <= n_fft / 2, else 0; k = k1 + n1 * k2
        yr = F.pad(re * self.scale, (0, pad)).reshape(b, t, n2, n1).transpose(2, 3)
        yi = F.pad(im * self.scale, (0, pad)).reshape(b, t, n2, n1).transpose(2, 3)
        ar = torch.matmul(yr, self.inner_cos) - torch.matmul(yi, self.inner_sin)
        ai = torch.matmul(yr, self.inner_sin) + torch.matmul(yi, self.inner_cos)
        br = ar * self.twiddle_cos - ai * self.twiddle_sin
        bi = ar * self.twiddle_sin + ai * self.twiddle_cos
        x = torch.matmul(self.outer_cos, br) - torch.matmul(self.outer_sin, bi)  # [B, T, m1, m2]
        return x.reshape(b, t, self.n_fft)  # sample m1 * n2 + m2


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
        self.irfft = InverseRealDFT(n_fft)
        self.register_buffer("window", window)
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
        frames = self.irfft(re, im) * self.window
        signal = _overlap_add(frames, self.ratio)
        envelope = _overlap_add(self.window_sq.expand_as(frames[:1]), self.ratio)
        start = self.ratio * self.hop // 2
        length = mel.shape[-1] * self.hop
        return signal[:, start : start + length] / envelope[:, start : start + length]
