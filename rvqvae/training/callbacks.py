"""Run-folder callbacks: per-epoch metrics.csv, checkpoints, code usage in W&B, and
:func:`instantiate_callbacks`, which builds the ``callbacks`` config group's nodes (the previews
are :mod:`rvqvae.training.previews`)."""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from rvqvae.atomic import atomic_write_text
from rvqvae.timing import synchronize
from rvqvae.training.previews import Previews  # noqa: F401  (runs saved with this _target_)

log = logging.getLogger(__name__)


def _scalar(value: Any) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


class EpochMetricsCSV(Callback):
    """Logs training throughput and lr, then writes one row per epoch with every epoch-level
    metric to ``metrics.csv`` (rank 0).

    Columns are added as new metrics appear; the file is rewritten atomically each epoch so
    it is always a complete CSV. Throughput counts training samples on all ranks over the
    training batches' wall time (validation excluded).
    """

    def __init__(
        self,
        path: str | Path,
        rate_key: str = "train/samples_per_s",
        count_items: Callable[[Any], int] | None = None,
    ) -> None:
        self.path = Path(path)
        self.rate_key = rate_key  # throughput metric name
        self.count_items = count_items or batch_size_of  # items a training batch counts for
        self.rows: list[dict[str, float]] = []
        self._start: float | None = None
        self._epoch_start = 0.0
        self._epoch_samples = 0
        self._train_seconds = 0.0
        self.seconds_before = 0.0  # fit time of the parts of this run before a resume
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)  # CUDA is asynchronous: the clock waits for the device
        self._epoch_start = time.perf_counter()
        self._epoch_samples = 0

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._epoch_samples += int(self.count_items(batch))
        if batch_idx + 1 >= trainer.num_training_batches:  # the epoch's last batch: wait for it
            synchronize(pl_module.device)
        self._train_seconds = time.perf_counter() - self._epoch_start

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training or self._epoch_samples == 0:
            return
        # validation runs at the end of the training epoch: log the epoch's throughput now
        # under DDP: every rank's samples over its time, summed (the ranks run in lockstep); the
        # learning rate is the same on every rank, so its mean over ranks is itself
        ddp = trainer.world_size > 1
        rate = self._epoch_samples / max(self._train_seconds, 1e-9)
        pl_module.log(self.rate_key, rate, sync_dist=ddp, reduce_fx="sum")
        pl_module.log("lr", trainer.optimizers[0].param_groups[0]["lr"], sync_dist=ddp)
        self._epoch_samples = 0

    def state_dict(self) -> dict[str, Any]:
        """Saved in each checkpoint: the rows so far and the cumulative fit time."""
        elapsed = self.seconds_before + time.perf_counter() - self._fit_start
        return {"rows": [dict(r) for r in self.rows], "train_seconds": elapsed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state_dict.get("rows", self.rows)]
        self.seconds_before = float(state_dict.get("train_seconds", 0.0))

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._fit_start = time.perf_counter()
        if self.path.is_file() and not self.rows:  # resumed in this run folder: keep its epochs
            with self.path.open(newline="") as f:
                self.rows = [
                    {k: float(v) for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(f)
                ]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        # epochs after the resumed checkpoint will be trained again: drop their old rows
        self.rows = [r for r in self.rows if r.get("epoch", -1) < trainer.current_epoch]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_samples:  # no validation this epoch: log throughput here
            self.on_validation_epoch_start(trainer, pl_module)
        metrics = {
            k: _scalar(v)
            for k, v in trainer.callback_metrics.items()
            if not k.endswith("_step") and (isinstance(v, float | int) or v.numel() == 1)
        }
        metrics = {k.removesuffix("_epoch"): v for k, v in metrics.items()}
        row = {"epoch": float(trainer.current_epoch), **metrics}
        if self._start is not None:
            row["time_s"] = self.seconds_before + time.perf_counter() - self._start
        self.rows.append(row)
        if trainer.is_global_zero:
            self._write()

    def _write(self) -> None:
        columns = ["epoch"] + sorted({k for row in self.rows for k in row} - {"epoch"})
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _format(row.get(k)) for k in columns})
        atomic_write_text(self.path, out.getvalue())


def batch_size_of(batch: Any) -> int:
    """Samples in a batch: the first dimension of the batch tensor (or of its first element)."""
    return int((batch[0] if isinstance(batch, list | tuple) else batch).shape[0])


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


class CodebookUsageToWandb(Callback):
    """After each epoch's validation, logs each level's code-usage histogram to W&B (nothing
    without a W&B logger)."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from lightning.pytorch.loggers import WandbLogger

        counts = getattr(pl_module, "last_code_counts", None)
        if counts is None or not any(isinstance(lg, WandbLogger) for lg in trainer.loggers):
            return
        from rvqvae.training.loggers import codebook_usage_histograms, log_to_wandb

        log_to_wandb(trainer, codebook_usage_histograms(counts))


def checkpoint_callbacks(
    checkpoint_dir: str | Path, interval: int, max_checkpoints: int, monitor: str = "val/recon_l1"
) -> list[ModelCheckpoint]:
    """``best.ckpt`` (lowest ``monitor``), ``last.ckpt`` (every epoch), and every ``interval``
    epochs a periodic checkpoint keeping the ``max_checkpoints`` newest."""
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # its own callback: ``save_last=True`` on ``best`` only rewrites last.ckpt when best improves
    last = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="last",
        every_n_epochs=1,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    periodic = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="epoch{epoch:04d}",
        monitor="epoch",
        mode="max",
        every_n_epochs=max(1, int(interval)),
        save_top_k=max(1, int(max_checkpoints)),
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    return [best, last, periodic]


class CallbackConfigError(ValueError):
    """A ``callbacks.NAME`` entry that is not a callback node; the message names it."""


def instantiate_callbacks(nodes: Mapping[str, Any] | None) -> list[Callback]:
    """The callbacks of the ``callbacks`` config (``conf/callbacks/``): each ``_target_`` node
    instantiated in order, a node that gives a list adds each; a null node is off."""
    from hydra.utils import instantiate

    callbacks: list[Callback] = []
    for name, node in (nodes or {}).items():
        if node is None:
            continue
        if not isinstance(node, Mapping) or "_target_" not in node:
            from rvqvae.training.config_upgrade import new_key

            moved = new_key(f"callbacks.{name}")
            hint = f"it is {moved} now" if moved else "settings are keys of a node"
            raise CallbackConfigError(
                f"callbacks.{name} is not a callback node (a mapping with _target_), got "
                f"{node!r}: {hint}"
            )
        built = instantiate(node)
        for callback in built if isinstance(built, list | tuple) else [built]:
            if not isinstance(callback, Callback):
                raise CallbackConfigError(
                    f"callbacks.{name} ({node['_target_']}) made a {type(callback).__name__}, "
                    "not a Lightning Callback"
                )
            callbacks.append(callback)
    return callbacks
