"""The LightningModule around :class:`~rvqvae.models.vqvae.ConvVQVAE`.

Loss = reconstruction error on log-mel (L1 by default) + the RVQ commitment loss summed over
levels. Before the first step the codebooks are initialised by k-means on a large batch of
*training* data (never on a validation or sanity-check batch). Validation logs
``val/recon_l1``, ``val/norm_l1`` (val L1 / L1 of predicting the mean training mel),
``val/norm_l1_levels_K`` (the same with the first K < Q levels decoded: in distribution only
with ``model.quantize_dropout``) and codebook health per level, all reduced across DDP ranks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Timer
from torch import Tensor

from rvqvae.models.vqvae import (
    ConvVQVAE,
    code_positions,
    codebook_utilization_from_counts,
    latent_shape,
)
from rvqvae.training.adversarial import AdversarialStage, adversarial_settings
from rvqvae.training.losses import RECON_LOSSES
from rvqvae.training.schedule import OptimizerFactory, SchedulerFactory

log = logging.getLogger(__name__)


class RVQVAEModule(L.LightningModule):
    """Trains a ConvVQVAE: reconstruction + commitment loss, the configured optimizer (and
    scheduler), k-means codebook init."""

    def __init__(
        self,
        model: ConvVQVAE,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        recon_loss: str = "l1",
        commit_loss_weight: float = 1.0,
        init_vectors_per_code: int = 16,
        run_config: dict[str, Any] | None = None,
        compile_model: bool = False,
        compile_mode: str = "default",
        level_metrics_interval: int = 1,
        adversarial: dict[str, Any] | None = None,
        gradient_clip: float | None = None,
    ) -> None:
        """``optimizer`` is called with the parameters (default AdamW, lr 1e-3, weight decay
        0.01); ``scheduler`` (none by default) with the optimizer and ``total_steps``.
        ``level_metrics_interval``: ``val/norm_l1_levels_K`` every N epochs and at the last one
        (NaN, an empty metrics.csv cell, in between: each costs a decoder pass per level).
        ``adversarial``: ``module.adversarial`` (:mod:`rvqvae.training.adversarial`); when
        enabled, training runs under manual optimisation and ``gradient_clip`` (the trainer's
        ``gradient_clip_val``, which Lightning refuses then) clips both optimizers' gradients."""
        super().__init__()
        if recon_loss not in RECON_LOSSES:
            raise ValueError(
                f"module.recon_loss must be one of {sorted(RECON_LOSSES)}, got {recon_loss!r}"
            )
        self.model = model
        self.optimizer_factory = optimizer or partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.01)
        self.scheduler_factory = scheduler
        self.recon_loss_name = recon_loss
        self.recon_loss = RECON_LOSSES[recon_loss]
        self.commit_loss_weight = commit_loss_weight
        self.init_vectors_per_code = init_vectors_per_code
        if int(level_metrics_interval) < 1:
            raise ValueError(
                f"module.level_metrics_interval must be >= 1, got {level_metrics_interval!r}"
            )
        self.level_metrics_interval = int(level_metrics_interval)
        self._levels_this_epoch = True
        # torch.compile the conv encoder/decoder (not the RVQ) at fit start: ~1.3x faster steps
        # on CPU, but ~70 s of compilation on 2 cores, so off by default.
        self.compile_model = bool(compile_model)
        self.compile_mode = compile_mode  # torch.compile mode; reduce-overhead = CUDA graphs
        # The resolved run config travels in every checkpoint so load_model() needs the file only.
        self.run_config = run_config or {}
        self.init_source: str | None = None  # where the k-means init data came from
        self.register_buffer("mean_train_mel", torch.zeros(0), persistent=True)
        self._val_sums: dict[str, Tensor] = {}
        self._train_sums: Tensor | None = None  # [figures] batch-size weighted sums this epoch
        self._train_count = 0
        settings = adversarial_settings(adversarial)
        self.adversarial = None if settings is None else AdversarialStage(settings, gradient_clip)
        if self.adversarial is not None:
            self.automatic_optimization = False
            self.discriminator = self.adversarial.build()

    # ------------------------------------------------------------------ set-up
    def on_fit_start(self) -> None:
        datamodule = self.trainer.datamodule
        if self.mean_train_mel.numel() == 0 and datamodule is not None:
            self.mean_train_mel = datamodule.mean_train_mel.to(self.device)
        if not self.model.quantizer.initted:
            self._init_codebooks_from_training_data(datamodule)
        if self.compile_model:  # after the k-means init: its odd batch size is not compiled
            self.model.encoder.compile(mode=self.compile_mode)
            self.model.decoder.compile(mode=self.compile_mode)

    @torch.no_grad()
    def _init_codebooks_from_training_data(self, datamodule: Any) -> None:
        """k-means init on >= init_vectors_per_code x codebook_size training vectors."""
        positions = _positions_per_chunk(datamodule)
        wanted_vectors = self.init_vectors_per_code * self.model.codebook_size
        wanted_chunks = math.ceil(wanted_vectors / positions)
        batches = [datamodule.init_batch(wanted_chunks)]
        have = batches[0].shape[0]
        if have < wanted_chunks:  # small dataset: top up with augmented training batches
            for batch in datamodule.training_batches():
                batches.append(_batch_mels(batch).cpu())
                have += batches[-1].shape[0]
                if have >= wanted_chunks:
                    break
        mels = torch.cat(batches)[:wanted_chunks].to(self.device)
        n_vectors = mels.shape[0] * positions
        if n_vectors < self.model.codebook_size:
            log.warning(
                "only %d training vectors for %d codes: k-means init repeats vectors",
                n_vectors,
                self.model.codebook_size,
            )
            mels = mels.repeat(math.ceil(self.model.codebook_size / n_vectors), 1, 1, 1)
        # train mode: the encoder sees batch statistics as it will during training
        self.model.train()
        self.model.init_codebooks(mels)
        self.init_source = f"train: {mels.shape[0]} chunks, {mels.shape[0] * positions} vectors"
        log.info("k-means codebook init on %s", self.init_source)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.model.parameters())
        config: dict[str, Any] = {"optimizer": optimizer}
        if self.scheduler_factory is not None:
            total = int(self.trainer.estimated_stepping_batches)
            extra = {}
            if getattr(self.scheduler_factory, "keywords", {}).get("budget") == "time":
                extra["time_fraction"] = self._time_budget_spent()
            scheduler = self.scheduler_factory(optimizer=optimizer, total_steps=total, **extra)
            config["lr_scheduler"] = {"scheduler": scheduler, "interval": "step"}
        if self.adversarial is None:
            return config
        return [config, {"optimizer": self.optimizer_factory(self.discriminator.parameters())}]

    def training_share(self) -> float:
        """The share of the run trained so far: of ``trainer.max_epochs`` or of the time budget,
        whichever is further along."""
        trainer = self.trainer
        shares = [self.current_epoch / trainer.max_epochs] if (trainer.max_epochs or 0) > 0 else []
        spent = self._time_budget_spent()
        if spent is not None:
            shares.append(spent())
        return max(shares, default=0.0)

    def _time_budget_spent(self) -> Callable[[], float] | None:
        """The share of ``trainer.max_time`` spent training so far, from Lightning's ``Timer``
        (saved in checkpoints, so a resumed run goes on from where it stopped); None without a
        time budget. Under DDP every rank takes rank 0's figure (each has its own clock, and
        ranks stepping with different learning rates would part their weights)."""
        trainer = self.trainer
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        if timer is None or timer.time_remaining("train") is None:
            return None

        def spent() -> float:
            elapsed, left = timer.time_elapsed("train"), timer.time_remaining("train") or 0.0
            share = elapsed / max(elapsed + left, 1e-9)
            if trainer.world_size > 1:  # every rank steps its scheduler here, in lockstep
                share = float(trainer.strategy.broadcast(share, src=0))
            return share

        return spent

    # ------------------------------------------------------------------ training
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = _batch_mels(batch)
        recon, _, commit = self.model(x)
        recon_loss = self.recon_loss(recon, x)
        loss = recon_loss + self.commit_loss_weight * commit
        bs = x.shape[0]
        # under DDP the training figures are means over every rank's batch, not rank 0's alone
        log_train = partial(self.log, on_epoch=True, batch_size=bs, sync_dist=self._ddp)
        if self.adversarial is not None:  # its own steps; train/loss stays recon + commitment
            for name, value in self.adversarial.step(self, x, recon, loss).items():
                log_train(name, value, on_step=False)
        log_train("train/loss", loss, on_step=True, prog_bar=True)
        log_train(f"train/recon_{self.recon_loss_name}", recon_loss)  # _step and _epoch
        if self.recon_loss_name != "l1":
            log_train("train/recon_l1", F.l1_loss(recon.detach(), x))
        # The commitment figures are epoch means only: summed here on the device and logged
        # once, at the epoch's last batch (a self.log per figure and step costs ~0.3 % of a CPU
        # step each).
        levels = self.model.quantizer.last_level_losses.detach().to(commit)  # [Q]
        sums = torch.cat([commit.detach()[None], levels]) * bs
        self._train_sums = sums if self._train_sums is None else self._train_sums + sums
        self._train_count += bs
        last_batch = self._trainer is None or batch_idx + 1 >= self._trainer.num_training_batches
        if last_batch:
            names = ["train/commit_loss"]
            names += [f"train/commit_level_{q}" for q in range(levels.shape[0])]
            for name, value in zip(names, self._train_sums / self._train_count):
                log_train(name, value, on_step=False)
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_sums, self._train_count = None, 0

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        q, c = self.model.num_quantizers, self.model.codebook_size
        epoch, last = self.current_epoch + 1, self.trainer.max_epochs
        # should_stop: the time budget (or another stop) ended training, so this validation is
        # the run's last: measure the levels, or a run ended by trainer.max_time before the
        # interval's first multiple would have none
        self._levels_this_epoch = (
            epoch % self.level_metrics_interval == 0
            or last is None
            or last < 0
            or epoch >= last
            or self.trainer.should_stop
        )
        self._val_sums = {
            "abs_err": torch.zeros((), device=self.device, dtype=torch.float64),
            "level_abs_err": torch.zeros(q, device=self.device, dtype=torch.float64),
            "baseline_abs_err": torch.zeros((), device=self.device, dtype=torch.float64),
            "elements": torch.zeros((), device=self.device, dtype=torch.float64),
            "counts": torch.zeros(q, c, device=self.device, dtype=torch.float64),
        }

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x = _batch_mels(batch)
        recon, indices, _ = self.model(x)
        sums = self._val_sums
        sums["abs_err"] += (recon.float() - x).abs().sum().double()
        spatial = latent_shape(x.shape[2], x.shape[3])
        for k in range(1, indices.shape[-1] if self._levels_this_epoch else 1):  # first k levels
            rec_k = self.model.decode_codes(indices, spatial, tuple(x.shape[2:]), levels=k)
            sums["level_abs_err"][k - 1] += (rec_k.float() - x).abs().sum().double()
        if self.mean_train_mel.numel():
            sums["baseline_abs_err"] += (x - self.mean_train_mel).abs().sum().double()
        sums["elements"] += x.numel()
        for level in range(indices.shape[-1]):
            sums["counts"][level] += torch.bincount(
                indices[..., level].reshape(-1), minlength=self.model.codebook_size
            ).double()

    def on_validation_epoch_end(self) -> None:
        sums = {
            k: self.trainer.strategy.reduce(v, reduce_op="sum") for k, v in self._val_sums.items()
        }
        if float(sums["elements"]) == 0:
            return
        # the sums are over every rank already, so each rank holds the same figures; under DDP
        # they are logged with sync_dist (the mean of equal values is that value, exactly)
        log_val = partial(self.log, sync_dist=self._ddp)
        recon_l1 = float(sums["abs_err"] / sums["elements"])
        log_val("val/recon_l1", recon_l1, prog_bar=True)
        if float(sums["baseline_abs_err"]) > 0:
            log_val("val/norm_l1", float(sums["abs_err"] / sums["baseline_abs_err"]), prog_bar=True)
            for k in range(1, self.model.num_quantizers):
                level_err = sums["level_abs_err"][k - 1] / sums["baseline_abs_err"]
                measured = self._levels_this_epoch
                log_val(f"val/norm_l1_levels_{k}", float(level_err) if measured else math.nan)
        health = codebook_utilization_from_counts(sums["counts"].cpu())
        self.last_codebook_health = health
        self.last_code_counts = sums["counts"].cpu()
        for level, stats in health.items():
            for name, value in stats.items():
                log_val(f"val/codebook/{level}/{name}", float(value))
        log_val("bitrate_bps", self.bitrate_bps())

    # ------------------------------------------------------------------ helpers
    @property
    def _ddp(self) -> bool:
        """True when several ranks train (their logged training figures are reduced)."""
        trainer = self._trainer
        return trainer is not None and trainer.world_size > 1

    def bitrate_bps(self) -> float:
        """Bits per second of the codes for this run's mel settings."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        return self.model.bitrate_bps(_positions_per_second(datamodule, self.run_config))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint["state_dict"].get("mean_train_mel")
        if saved is not None:  # the buffer is empty until the first fit: take the saved shape
            self.mean_train_mel = torch.empty_like(saved, device=self.device)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rvqvae"] = {"config": self.run_config, "format_version": 1}


def _batch_mels(batch: Any) -> Tensor:
    """The mel tensor [B, 1, n_mels, T] of a batch (a tensor, or a tuple/list starting with it)."""
    return batch[0] if isinstance(batch, list | tuple) else batch


def chunk_geometry(run_config: dict[str, Any]) -> tuple[int, int, float]:
    """``(n_mels, chunk_frames, chunk_duration_s)`` of the run's dataset settings."""
    from rvqvae.data.mel import MelSettings

    dataset = run_config.get("dataset", {})
    settings = MelSettings.from_config(dataset)
    duration = float(dataset.get("chunk_duration_s", 1.0))
    return settings.n_mels, settings.chunk_frames(duration), duration


def _positions_per_chunk(datamodule: Any) -> int:
    n_mels, frames = datamodule.train_chunks.shape[-2:]
    return code_positions(int(n_mels), int(frames))


def _positions_per_second(datamodule: Any, run_config: dict[str, Any]) -> float:
    """Code positions per second of audio: (H * W) of one chunk / chunk duration."""
    n_mels, frames, duration = chunk_geometry(run_config)
    if datamodule is not None and hasattr(datamodule, "train_chunks"):
        n_mels, frames = (int(n) for n in datamodule.train_chunks.shape[-2:])
        duration = float(getattr(datamodule, "chunk_duration_s", duration))
    return code_positions(n_mels, frames) / duration
