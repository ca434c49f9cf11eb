"""Reconstruction losses of the RVQ-VAE on log-mel spectrograms ``[B, 1, n_mels, frames]``
(``module.recon_loss``): the plain element-wise ones and two that weigh what a listener hears
differently from a log-mel L1.

- ``multires_l1``: the L1 of the log-mel at 4 resolutions, the mel itself and its 2x, 4x and 8x
  average-pooled versions over frequency and time, averaged: the coarse spectral envelope and
  slow changes count beside the per-bin detail (a mel-domain counterpart of the
  multi-resolution spectral losses of EnCodec and DAC).
- ``l1_linear``: the log-mel L1 plus the L1 of the linear magnitude (``sqrt(expm1(mel))``,
  mel = ``log1p(power)``) over the target's mean magnitude: loud partials, which the log
  compresses, weigh more.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

POOLING_FACTORS = (2, 4, 8)  # multires_l1: average pooling beside the full resolution
MAGNITUDE_FLOOR = 1e-5  # sqrt's gradient at 0 is infinite: magnitudes of power + this


def multires_l1(recon: Tensor, target: Tensor) -> Tensor:
    """Mean of the L1 at full resolution and at each of :data:`POOLING_FACTORS` (pools that do
    not fit the spectrogram are skipped)."""
    losses = [F.l1_loss(recon, target)]
    for factor in POOLING_FACTORS:
        if min(target.shape[-2:]) < factor:
            break
        losses.append(F.l1_loss(F.avg_pool2d(recon, factor), F.avg_pool2d(target, factor)))
    return sum(losses) / len(losses)


def linear_magnitude(mel: Tensor) -> Tensor:
    """Log-mel (``log1p`` of power) -> magnitude ``sqrt(power)`` (floored for the gradient)."""
    return (mel.clamp(min=0).expm1() + MAGNITUDE_FLOOR).sqrt()


def l1_linear(recon: Tensor, target: Tensor) -> Tensor:
    """Log-mel L1 + linear-magnitude L1 relative to the target's mean magnitude."""
    magnitude = linear_magnitude(target)
    linear = F.l1_loss(linear_magnitude(recon), magnitude) / magnitude.mean().clamp(min=1e-6)
    return F.l1_loss(recon, target) + linear


RECON_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
    "smooth_l1": F.smooth_l1_loss,
    "multires_l1": multires_l1,
    "l1_linear": l1_linear,
}
