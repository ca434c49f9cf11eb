"""Adversarial training parts shared by the codec and the vocoder: least-squares GAN losses,
feature matching, and :class:`MelDiscriminator`, the codec's small log-mel discriminator
(``module.adversarial``: RAVE and EnCodec sharpen their reconstructions with one)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

Features = list[Tensor]


def scores_and_features(
    convs: nn.ModuleList, post: nn.Module, x: Tensor
) -> tuple[Tensor, Features]:
    """Leaky-ReLU conv stack then the score conv: (scores ``[B, N]``, every layer's output)."""
    features = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), 0.1)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


def discriminator_loss(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """Least-squares GAN: real scores towards 1, generated towards 0."""
    terms = [(1 - r).square().mean() + f.square().mean() for r, f in zip(real, fake)]
    return torch.stack(terms).sum()


def generator_loss(fake: list[Tensor]) -> Tensor:
    """Least-squares GAN: generated scores towards 1."""
    return torch.stack([(1 - f).square().mean() for f in fake]).sum()


def feature_matching(real: list[Features], fake: list[Features]) -> Tensor:
    """Mean L1 between the discriminators' feature maps of real and generated inputs."""
    terms = [(r.detach() - f).abs().mean() for rs, fs in zip(real, fake) for r, f in zip(rs, fs)]
    return torch.stack(terms).mean()


class PatchDiscriminator(nn.Module):
    """Three stride-2 3x3 convolutions over a log-mel ``[B, 1, n_mels, T]``, then a score per
    position of the 8x-downsampled map (each sees about 31 mel bins x 31 frames of its input)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        widths = [1, channels, 2 * channels, 4 * channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(a, b, (3, 3), (2, 2), padding=1))
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.post = weight_norm(nn.Conv2d(widths[-1], 1, (3, 3), padding=1))

    def forward(self, mel: Tensor) -> tuple[Tensor, Features]:
        return scores_and_features(self.convs, self.post, mel)


class MelDiscriminator(nn.Module):
    """:class:`PatchDiscriminator` at ``scales`` resolutions of the log-mel (each next one
    average-pooled 2x in frequency and time): ``forward(mel [B, 1, n_mels, T])`` -> (scores per
    scale, feature maps per scale)."""

    def __init__(self, channels: int = 16, scales: int = 2) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("scales", scales)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"module.adversarial.{name} must be an integer >= 1, got {value!r}"
                )
        self.members = nn.ModuleList(PatchDiscriminator(channels) for _ in range(scales))

    def forward(self, mel: Tensor) -> tuple[list[Tensor], list[Features]]:
        scores, features = [], []
        for k, member in enumerate(self.members):
            if k:
                mel = nn.functional.avg_pool2d(mel, 2, ceil_mode=True)
            s, f = member(mel)
            scores.append(s)
            features.append(f)
        return scores, features
