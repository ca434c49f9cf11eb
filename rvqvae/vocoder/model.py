"""The Vocos-style generator: log-mel ``[B, n_mels, T]`` -> audio ``[B, T * hop]``.

With ``mel_skip`` (default) the head's log-magnitude is a correction added to the magnitude the
input mel implies (pseudo-inverse of the filterbank), so training starts from Griffin-Lim's
magnitude estimate and spends its steps on phase and detail.

A ConvNeXt backbone over mel frames and an inverse-STFT head that predicts each frame's
log-magnitude and phase (Siuzdak, "Vocos", 2023): no upsampling layers, so it is fast on a CPU.
Frame ``t`` of the head is centred on sample ``t * hop`` (``torch.istft(center=True)``), the
framing rule of :mod:`rvqvae.data.mel`, so the output lines up with the audio the mel came from.
Every layer is per frame except the kernel-7 convolutions, so an output frame depends on
:attr:`VocosGenerator.receptive_radius` mel frames either side (block-wise synthesis uses this).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

_MAX_MAGNITUDE = 100.0  # exp(log-magnitude) is clipped here (Vocos' choice): no overflow early on
_KERNEL = 7


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (kernel 7) -> LayerNorm -> pointwise MLP (GELU) -> layer scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, _KERNEL, padding=_KERNEL // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).transpose(1, 2)  # [B, T, C]
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class VocosGenerator(nn.Module):
    """ConvNeXt backbone + ISTFT head (``n_fft``, ``hop_length`` of the head; a Hann window)."""

    def __init__(
        self,
        n_mels: int = 128,
        n_fft: int = 2048,
        hop_length: int = 512,
        dim: int = 128,
        intermediate_dim: int = 384,
        num_layers: int = 6,
        mel_skip: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("intermediate_dim", intermediate_dim)):
            if int(value) < 1:
                raise ValueError(f"vocoder.model.{name} must be >= 1, got {value!r}")
        if int(num_layers) < 0:
            raise ValueError(f"vocoder.model.num_layers must be >= 0, got {num_layers!r}")
        self.hparams = {
            "n_mels": int(n_mels),
            "n_fft": int(n_fft),
            "hop_length": int(hop_length),
            "dim": int(dim),
            "intermediate_dim": int(intermediate_dim),
            "num_layers": int(num_layers),
            "mel_skip": bool(mel_skip),
        }
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.embed = nn.Conv1d(n_mels, dim, _KERNEL, padding=_KERNEL // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        scale = 1.0 / max(1, int(num_layers))
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, scale) for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, self.n_fft + 2)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        # mel_skip: the head predicts a correction to the magnitude the mel itself implies
        # (pseudo-inverse of the filterbank, set by set_mel_basis and saved with the weights)
        if mel_skip:
            self.register_buffer("mel_pinv", torch.zeros(self.n_fft // 2 + 1, n_mels))

    def set_mel_basis(self, filterbank: Tensor) -> None:
        """Store the pseudo-inverse of the analysis filterbank ``[n_mels, n_fft // 2 + 1]``
        (mel power -> linear power; ``log1p`` mels of power 2)."""
        self.mel_pinv.copy_(torch.linalg.pinv(filterbank.double()).float())

    @property
    def hparams_dict(self) -> dict[str, Any]:
        """Constructor arguments (stored in checkpoints)."""
        return dict(self.hparams)

    @property
    def receptive_radius(self) -> int:
        """Mel frames either side that an output frame's spectrum depends on."""
        return (_KERNEL // 2) * (1 + len(self.blocks))

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def spectrum(self, mel: Tensor) -> Tensor:
        """Complex STFT frames ``[B, n_fft // 2 + 1, T]`` predicted from ``mel [B, n_mels, T]``."""
        x = self.embed(mel)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # [B, n_fft+2, T]
        log_mag, phase = x.float().chunk(2, dim=1)
        if self.hparams["mel_skip"]:
            power = torch.matmul(self.mel_pinv, torch.expm1(mel.float().clamp(min=0)))
            log_mag = log_mag + 0.5 * torch.log(power.clamp(min=1e-8))
        mag = torch.exp(log_mag).clamp(max=_MAX_MAGNITUDE)
        return torch.polar(mag, phase)

    def istft(self, spec: Tensor, length: int) -> Tensor:
        """Audio ``[B, length]`` of complex frames ``[B, F, T]`` (frame t centred on t * hop)."""
        return torch.istft(
            spec, self.n_fft, self.hop_length, window=self.window, center=True, length=length
        )

    def forward(self, mel: Tensor) -> Tensor:
        """Audio ``[B, T * hop_length]`` of ``mel [B, n_mels, T]``."""
        return self.istft(self.spectrum(mel), mel.shape[-1] * self.hop_length)
