"""The LightningModule training a code prior: cross-entropy, per-level bits/s, memorisation check.

Validation sums the negative log-likelihood of every validation column once (see
:func:`rvqvae.prior.data.score_windows`) per level, reduced across DDP ranks, and logs

- ``val/nll``: nats per token; ``val/ce/level_k``: nats per token of level k;
- ``val/bits_per_s``: NLL of the validation files in bits per second of audio, and
  ``val/bits_per_s/level_k`` (they sum to the total);
- ``raw_bits_per_s`` (codes at log2(codebook size) bits each) and ``unigram_bits_per_s`` (the
  per-row, per-level code frequencies of the training files) on the same files.

When validation NLL has risen above its best for ``patience`` epochs while the training loss kept
falling, a warning says the prior is memorising (once per onset).
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

import lightning as L
import torch
from torch import Tensor

from rvqvae.prior.infill import training_nll
from rvqvae.prior.masked import MaskedPrior, masked_training_nll
from rvqvae.prior.model import CodePrior
from rvqvae.training.schedule import OptimizerFactory, SchedulerFactory, warmup_cosine

log = logging.getLogger(__name__)


def memorising(history: list[dict[str, float]], patience: int) -> dict[str, float] | None:
    """The best epoch's entry when the last ``patience`` epochs all have a validation NLL above
    the best one while the training NLL fell at each of them; else None.

    ``history``: one ``{"epoch", "train", "val"}`` per epoch, in order.
    """
    if len(history) <= patience:
        return None
    best = min(history, key=lambda h: h["val"])
    recent = history[-patience:]
    rising = all(h["val"] > best["val"] for h in recent)
    falling = all(a["train"] > b["train"] for a, b in zip(history[-patience - 1 :], recent))
    return best if rising and falling else None


class PriorModule(L.LightningModule):
    """Trains a :class:`CodePrior` on windows of code columns (AdamW, warm-up + cosine)."""

    def __init__(
        self,
        prior: CodePrior,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        memorising_patience: int = 2,
        run_config: dict[str, Any] | None = None,
        vqvae_payload: dict[str, Any] | None = None,
    ) -> None:
        """``optimizer`` is called with the parameter groups (default AdamW, lr 1e-3, weight
        decay 0.05, betas 0.9/0.95), ``scheduler`` (default warm-up 100 + cosine) with the
        optimizer and ``total_steps``."""
        super().__init__()
        self.prior = prior
        self.optimizer_factory = optimizer or partial(
            torch.optim.AdamW, lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95)
        )
        self.scheduler_factory = scheduler or partial(warmup_cosine, warmup_steps=100)
        self.patience = max(1, int(memorising_patience))
        self.run_config = run_config or {}
        self.vqvae_payload = vqvae_payload or {}
        self.levels = prior.layout.levels
        self.val_seconds = 0.0
        self.baselines: dict[str, float] = {}  # raw_bits_per_s, unigram_bits_per_s
        self.history: list[dict[str, float]] = []  # per epoch: train loss, val nll
        self.memorising_from_epoch: int | None = None
        self._warned = False
        self._val: dict[str, Tensor] = {}
        self._train_sum = torch.zeros(2, dtype=torch.float64)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        decay = [p for n, p in self.prior.named_parameters() if p.ndim >= 2 and "emb" not in n]
        rest = [p for n, p in self.prior.named_parameters() if not (p.ndim >= 2 and "emb" not in n)]
        # the first group takes the optimizer's weight_decay; embeddings, norms, biases none
        optimizer = self.optimizer_factory(
            [{"params": decay}, {"params": rest, "weight_decay": 0.0}]
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = self.scheduler_factory(optimizer=optimizer, total_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_train_epoch_start(self) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(self.current_epoch)  # a new file order and new windows
        self._train_sum = torch.zeros(2, dtype=torch.float64)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        columns, mask = batch
        if isinstance(self.prior, MaskedPrior):  # the hidden tokens of the file's columns
            nll, weights = masked_training_nll(self.prior, columns, mask)
        else:  # in order, or reordered (prior.fim_rate)
            nll = training_nll(self.prior, columns, mask)
            weights = mask[..., None].expand_as(nll).float()
        loss = (nll * weights).sum() / weights.sum().clamp(min=1)
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=columns.shape[0],
            # under DDP: the mean over every rank's batch (no trainer: a benchmark's bare step)
            sync_dist=self._trainer is not None and self._trainer.world_size > 1,
        )
        # summed where the step ran: float() here would make the host wait for every GPU step
        step_sum = torch.stack([(nll.detach() * weights).sum(), weights.sum()]).double()
        self._train_sum = self._train_sum.to(step_sum.device) + step_sum
        return loss

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        zeros = torch.zeros(self.levels, dtype=torch.float64, device=self.device)
        self._val = {"nll": zeros.clone(), "tokens": zeros.clone()}

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        columns, mask = batch
        nll, tokens = self.prior.level_nll(columns, mask)
        self._val["nll"] += nll
        self._val["tokens"] += tokens

    def on_validation_epoch_end(self) -> None:
        sums = {k: self.trainer.strategy.reduce(v, reduce_op="sum") for k, v in self._val.items()}
        tokens = float(sums["tokens"].sum())
        if tokens == 0 or self.val_seconds <= 0:
            return
        # the sums are over every rank: equal figures on each, logged with sync_dist under DDP
        log_val = partial(self.log, sync_dist=self.trainer.world_size > 1)
        nll = float(sums["nll"].sum()) / tokens
        bits_per_s = float(sums["nll"].sum()) / math.log(2) / self.val_seconds
        log_val("val/nll", nll, prog_bar=False)
        log_val("val/bits_per_s", bits_per_s, prog_bar=True)
        for k in range(self.levels):
            per_token = float(sums["nll"][k]) / max(float(sums["tokens"][k]), 1.0)
            log_val(f"val/ce/level_{k}", per_token)
            log_val(
                f"val/bits_per_s/level_{k}", float(sums["nll"][k]) / math.log(2) / self.val_seconds
            )
        for name, value in self.baselines.items():
            log_val(name, value)
        if not self.trainer.sanity_checking:
            self._check_memorising(nll)

    def _check_memorising(self, val_nll: float) -> None:
        train = self.trainer.strategy.reduce(self._train_sum.to(self.device), reduce_op="sum")
        train_nll = float(train[0]) / max(float(train[1]), 1.0)
        self.history.append({"epoch": self.current_epoch, "train": train_nll, "val": val_nll})
        best = memorising(self.history, self.patience)
        if best is None:
            self._warned = False
            return
        if self.memorising_from_epoch is None:
            self.memorising_from_epoch = int(best["epoch"]) + 1
        if not self._warned:
            self._warned = True
            log.warning(
                "the prior is memorising: validation NLL rose from %.4f (epoch %d) to %.4f while "
                "training NLL fell to %.4f; best.ckpt keeps epoch %d (a smaller prior, more "
                "dropout or fewer epochs generalise better)",
                best["val"],
                best["epoch"],
                val_nll,
                train_nll,
                best["epoch"],
            )

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from rvqvae.prior.checkpoint import PRIOR_KEY

        checkpoint[PRIOR_KEY] = {
            "format_version": 1,
            "config": self.run_config,
            "prior": self.prior.hparams_dict,
            "vqvae": self.vqvae_payload,
        }
