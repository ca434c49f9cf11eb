"""The vocoder's LightningModule: generator + :class:`~rvqvae.vocoder.losses.VocoderLoss`."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning as L
import torch
from torch import Tensor

from rvqvae.data.mel import MelSettings
from rvqvae.models.adversarial import discriminator_loss, feature_matching, generator_loss
from rvqvae.training.schedule import warmup_cosine
from rvqvae.vocoder.checkpoint import VOCODER_KEY
from rvqvae.vocoder.discriminators import Discriminators
from rvqvae.vocoder.losses import VocoderLoss
from rvqvae.vocoder.model import VocosGenerator


class VocoderModule(L.LightningModule):
    """Trains a :class:`VocosGenerator` on (mel, audio) crops; checkpoints carry
    ``checkpoint[VOCODER_KEY]`` (``entry``), so :func:`rvqvae.vocoder.checkpoint.load_vocoder`
    reads them.

    With ``gan`` (``vocoder.adversarial=true``) the loss adds ``adv_weight`` x the least-squares
    GAN loss and ``feature_weight`` x feature matching of :class:`Discriminators`, trained in
    turn with their own optimizer (manual optimisation, gradients clipped to ``clip``).
    """

    def __init__(
        self,
        generator: VocosGenerator,
        settings: MelSettings,
        entry: dict[str, Any],
        loss: dict[str, Any] | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
        gan: dict[str, Any] | None = None,
        clip: float = 1.0,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.loss_fn = VocoderLoss(settings, **(loss or {}))
        self.entry = entry
        self.optimizer_factory = optimizer or partial(torch.optim.AdamW, lr=1e-3)
        self.scheduler_factory = scheduler or partial(warmup_cosine, warmup_steps=0)
        self.gan = dict(gan) if gan else None
        self.clip = float(clip)
        if self.gan is not None:
            self.automatic_optimization = False
            self.adv_weight = float(self.gan.pop("adv_weight", 1.0))
            self.feature_weight = float(self.gan.pop("feature_weight", 2.0))
            self.discriminators = Discriminators(**self.gan)

    def configure_optimizers(self) -> Any:
        total = max(1, int(self.trainer.estimated_stepping_batches))
        optimizer = self.optimizer_factory(self.generator.parameters())
        scheduler = self.scheduler_factory(optimizer=optimizer, total_steps=total)
        g = {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if self.gan is None:
            return g
        d_opt = self.optimizer_factory(self.discriminators.parameters())
        d_sched = self.scheduler_factory(optimizer=d_opt, total_steps=total)
        return [g, {"optimizer": d_opt, "lr_scheduler": {"scheduler": d_sched, "interval": "step"}}]

    def on_train_epoch_start(self) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(self.current_epoch)  # new crops every epoch

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        mel, audio = batch
        y_hat = self.generator(mel)
        terms = self.loss_fn(y_hat, audio)
        if self.gan is not None:
            terms["loss"] = self._adversarial_step(y_hat, audio, terms["loss"])
        self.log("train/loss", terms["loss"], on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/mel_l1", terms["mel_l1"], on_step=False, on_epoch=True)
        return terms["loss"]

    def _adversarial_step(self, y_hat: Tensor, audio: Tensor, recon_loss: Tensor) -> Tensor:
        """One discriminator step, then one generator step; returns the generator's loss."""
        g_opt, d_opt = self.optimizers()  # type: ignore[misc]
        g_sched, d_sched = self.lr_schedulers()  # type: ignore[misc]
        real, _ = self.discriminators(audio)
        fake, _ = self.discriminators(y_hat.detach())
        d_loss = discriminator_loss(real, fake)
        d_opt.zero_grad()
        self.manual_backward(d_loss)
        self.clip_gradients(d_opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        d_opt.step()
        d_sched.step()
        _, real_features = self.discriminators(audio)
        fake_scores, fake_features = self.discriminators(y_hat)
        adv = generator_loss(fake_scores)
        fm = feature_matching(real_features, fake_features)
        loss = recon_loss + self.adv_weight * adv + self.feature_weight * fm
        g_opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(g_opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        g_opt.step()
        g_sched.step()
        self.log_dict({"train/d_loss": d_loss.detach(), "train/adv": adv.detach()}, on_epoch=True)
        return loss.detach()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        mel, audio = batch
        terms = self.loss_fn(self.generator(mel), audio)
        size = mel.shape[0]
        self.log("val/loss", terms["loss"], on_epoch=True, batch_size=size, prog_bar=True)
        self.log("val/stft", terms["stft"], on_epoch=True, batch_size=size)
        self.log("val/mel_l1", terms["mel_l1"], on_epoch=True, batch_size=size)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[VOCODER_KEY] = self.entry
