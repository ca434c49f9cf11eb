"""The codec's optional adversarial stage (``module.adversarial.enabled=true``): after a warm-up
share of the run, a small log-mel discriminator (:class:`~rvqvae.models.adversarial.
MelDiscriminator`) is trained against the reconstructions, and the VQ-VAE's loss adds its
least-squares GAN loss and feature matching (as RAVE and EnCodec do for sharpness). The step
runs under Lightning's manual optimisation: one discriminator step, then one VQ-VAE step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rvqvae.models.adversarial import (
    MelDiscriminator,
    discriminator_loss,
    feature_matching,
    generator_loss,
)

KEYS = ("enabled", "start", "weight", "feature_weight", "channels", "scales")


@dataclass(frozen=True)
class AdversarialSettings:
    """``start``: share of the run (epochs, or the time budget when there is one) trained on the
    reconstruction loss alone; ``weight`` / ``feature_weight``: the GAN loss's and feature
    matching's weights beside it; ``channels`` / ``scales``: the discriminator's size."""

    start: float = 0.3
    weight: float = 0.1
    feature_weight: float = 1.0
    channels: int = 16
    scales: int = 2


def adversarial_settings(node: Mapping[str, Any] | None) -> AdversarialSettings | None:
    """The stage's settings from ``module.adversarial`` (None when it is off); a bad value is a
    one-line ``ValueError`` naming the key."""
    if not node:
        return None
    unknown = sorted(set(node) - set(KEYS))
    if unknown:
        raise ValueError(f"module.adversarial has no key {unknown[0]!r} (keys: {', '.join(KEYS)})")
    enabled = node.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ValueError(f"module.adversarial.enabled must be true or false, got {enabled!r}")
    if not enabled:
        return None
    values = {k: node[k] for k in KEYS[1:] if k in node}
    for key in ("start", "weight", "feature_weight"):
        value = values.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"module.adversarial.{key} must be a number >= 0, got {value!r}")
    if values.get("start", 0.0) >= 1:
        raise ValueError(
            f"module.adversarial.start must be < 1 (a share of the run), got {values['start']!r}"
        )
    return AdversarialSettings(**values)


class AdversarialStage:
    """The discriminator's and the VQ-VAE's steps for :class:`~rvqvae.training.module.
    RVQVAEModule`, which owns the discriminator (so it is saved, moved and resumed with it)."""

    def __init__(self, settings: AdversarialSettings, clip: float | None) -> None:
        self.settings = settings
        self.clip = clip

    def build(self) -> MelDiscriminator:
        return MelDiscriminator(self.settings.channels, self.settings.scales)

    def active(self, training_share: float) -> bool:
        """Whether the warm-up (``start``, a share of the run) is over."""
        return training_share >= self.settings.start

    def step(self, module: Any, x: Tensor, recon: Tensor, loss: Tensor) -> dict[str, Tensor]:
        """One discriminator step on (``x``, ``recon``) once the warm-up is over, then one step
        of the VQ-VAE on ``loss`` (+ the GAN terms when active); returns the figures to log."""
        g_opt, d_opt = module.optimizers()
        discriminator = module.discriminator
        figures: dict[str, Tensor] = {}
        if self.active(module.training_share()):
            real, _ = discriminator(x)
            fake, _ = discriminator(recon.detach())
            d_loss = discriminator_loss(real, fake)
            d_opt.zero_grad()
            module.manual_backward(d_loss)
            self._clip(module, d_opt)
            d_opt.step()
            discriminator.requires_grad_(False)  # the VQ-VAE's step leaves it as it is
            with torch.no_grad():
                _, real_features = discriminator(x)
            fake_scores, fake_features = discriminator(recon)
            adv = generator_loss(fake_scores)
            fm = feature_matching(real_features, fake_features)
            loss = loss + self.settings.weight * adv + self.settings.feature_weight * fm
            figures = {"train/d_loss": d_loss.detach(), "train/adv": adv.detach()}
            figures["train/feature_matching"] = fm.detach()
        g_opt.zero_grad()
        module.manual_backward(loss)
        discriminator.requires_grad_(True)
        self._clip(module, g_opt)
        g_opt.step()
        scheduler = module.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        return figures

    def _clip(self, module: Any, optimizer: Any) -> None:
        if self.clip:
            module.clip_gradients(
                optimizer, gradient_clip_val=self.clip, gradient_clip_algorithm="norm"
            )
