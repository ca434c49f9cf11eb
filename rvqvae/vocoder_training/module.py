"""The vocoder's LightningModule: generator + :class:`~rvqvae.vocoder.losses.VocoderLoss`."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning as L
import torch
from torch import Tensor

from rvqvae.data.mel import MelSettings
from rvqvae.training.schedule import warmup_cosine
from rvqvae.vocoder.checkpoint import VOCODER_KEY
from rvqvae.vocoder.losses import VocoderLoss
from rvqvae.vocoder.model import VocosGenerator


class VocoderModule(L.LightningModule):
    """Trains a :class:`VocosGenerator` on (mel, audio) crops; checkpoints carry
    ``checkpoint[VOCODER_KEY]`` (``entry``), so :func:`rvqvae.vocoder.checkpoint.load_vocoder`
    reads them."""

    def __init__(
        self,
        generator: VocosGenerator,
        settings: MelSettings,
        entry: dict[str, Any],
        loss: dict[str, Any] | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.loss_fn = VocoderLoss(settings, **(loss or {}))
        self.entry = entry
        self.optimizer_factory = optimizer or partial(torch.optim.AdamW, lr=1e-3)
        self.scheduler_factory = scheduler or partial(warmup_cosine, warmup_steps=0)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.generator.parameters())
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = self.scheduler_factory(optimizer=optimizer, total_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_train_epoch_start(self) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(self.current_epoch)  # new crops every epoch

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        mel, audio = batch
        terms = self.loss_fn(self.generator(mel), audio)
        self.log("train/loss", terms["loss"], on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/mel_l1", terms["mel_l1"], on_step=False, on_epoch=True)
        return terms["loss"]

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        mel, audio = batch
        terms = self.loss_fn(self.generator(mel), audio)
        size = mel.shape[0]
        self.log("val/loss", terms["loss"], on_epoch=True, batch_size=size, prog_bar=True)
        self.log("val/stft", terms["stft"], on_epoch=True, batch_size=size)
        self.log("val/mel_l1", terms["mel_l1"], on_epoch=True, batch_size=size)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[VOCODER_KEY] = self.entry
