"""The vocoder's optional adversarial stage (``vocoder.adversarial=true``): multi-period
(HiFi-GAN) and multi-resolution (UnivNet / Vocos) discriminators (the GAN losses and feature
matching are :mod:`rvqvae.models.adversarial`'s). Channel widths are a parameter so that the
stage stays affordable on a CPU."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from rvqvae.models.adversarial import Features, scores_and_features


class PeriodDiscriminator(nn.Module):
    """Audio folded into ``[B, 1, T / p, p]`` columns, 2-D convolutions along time."""

    def __init__(self, period: int, channels: int) -> None:
        super().__init__()
        self.period = int(period)
        widths = [1, channels, 2 * channels, 4 * channels, 4 * channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (5, 1), (3 if i < 3 else 1, 1), padding=(2, 0)))
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, y: Tensor) -> tuple[Tensor, Features]:
        b, n = y.shape
        pad = (-n) % self.period
        x = nn.functional.pad(y, (0, pad), mode="reflect" if pad < n else "constant")
        x = x.view(b, 1, -1, self.period)
        return scores_and_features(self.convs, self.post, x)


class ResolutionDiscriminator(nn.Module):
    """2-D convolutions over one STFT magnitude ``[B, 1, frames, bins]``."""

    def __init__(self, n_fft: int, channels: int) -> None:
        super().__init__()
        self.n_fft = int(n_fft)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        kernels = [((7, 5), (1, 2)), ((5, 3), (2, 2)), ((5, 3), (1, 2)), ((3, 3), (1, 1))]
        widths = [1] + [channels] * len(kernels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, k, s, padding=(k[0] // 2, k[1] // 2)))
            for (a, b), (k, s) in zip(zip(widths[:-1], widths[1:]), kernels)
        )
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, y: Tensor) -> tuple[Tensor, Features]:
        spec = torch.stft(
            y.float(), self.n_fft, self.n_fft // 4, window=self.window, return_complex=True
        )
        x = spec.abs().transpose(1, 2)[:, None]  # [B, 1, frames, bins]
        return scores_and_features(self.convs, self.post, x)


class Discriminators(nn.Module):
    """All period and resolution discriminators: ``forward(y)`` -> (scores, feature maps)."""

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        fft_sizes: Sequence[int] = (512, 1024, 2048),
        channels: int = 16,
    ) -> None:
        super().__init__()
        if int(channels) < 1:
            raise ValueError(f"vocoder.gan.channels must be >= 1, got {channels!r}")
        self.members = nn.ModuleList(
            [PeriodDiscriminator(p, channels) for p in periods]
            + [ResolutionDiscriminator(n, channels) for n in fft_sizes]
        )

    def forward(self, y: Tensor) -> tuple[list[Tensor], list[Features]]:
        outs = [m(y) for m in self.members]
        return [o[0] for o in outs], [o[1] for o in outs]
