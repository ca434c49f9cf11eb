"""Run-folder callbacks: per-epoch metrics.csv, previews, checkpoints, and
:func:`instantiate_callbacks`, which builds the ``callbacks`` config group's nodes."""

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
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from rvqvae.atomic import atomic_path, atomic_write_text
from rvqvae.timing import synchronize

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


class Previews(Callback):
    """Every ``interval`` epochs and at the end: original vs reconstruction mels (PNG) and audio
    (WAV: the run's vocoder or Griffin-Lim) for a fixed set of validation chunks, in
    ``previews/`` and W&B."""

    def __init__(
        self,
        out_dir: str | Path,
        interval: int,
        num_chunks: int = 4,
        griffin_lim_iters: int = 32,
        vocoder: str = "auto",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.interval = max(1, int(interval))
        self.num_chunks = num_chunks
        self.griffin_lim_iters = griffin_lim_iters
        self.vocoder = vocoder  # auto: RUN/vocoder/vocoder.ckpt (e.g. when resuming), else GL
        self.written: list[Path] = []
        # Griffin-Lim is most of a preview's cost: the originals' audio is made once (the chunks
        # are fixed), and the final preview reuses the last one's when no step came between
        self._original_audio: tuple[int, list[np.ndarray]] | None = None  # (chunks hash, audio)
        self._recon_audio: tuple[int, list[np.ndarray]] | None = None  # (global step, audio)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.interval == 0:
            self.write(trainer, pl_module, f"epoch_{epoch:04d}")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write(trainer, pl_module, "final")

    @torch.no_grad()
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str) -> Path | None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return None
        import soundfile as sf

        from rvqvae.vocoder.synthesize import build_synthesizer

        datamodule = trainer.datamodule
        chunks = datamodule.preview_chunks(self.num_chunks)
        if chunks.shape[0] == 0:
            return None
        was_training = pl_module.training
        pl_module.eval()
        recon, _, _ = pl_module.model(chunks.to(pl_module.device))
        pl_module.train(was_training)
        originals = chunks[:, 0].cpu().float().numpy()
        recons = recon[:, 0].cpu().float().numpy()
        folder = self.out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        settings = datamodule.settings

        best = self.out_dir.parent / "checkpoints" / "best.ckpt"
        synth = build_synthesizer(self.vocoder, settings, best, self.griffin_lim_iters)

        def vocode(mels: np.ndarray) -> list[np.ndarray]:
            return [synth(mel) for mel in mels]

        key = hash(originals.tobytes())
        if self._original_audio is None or self._original_audio[0] != key:
            self._original_audio = (key, vocode(originals))
        if self._recon_audio is None or self._recon_audio[0] != trainer.global_step:
            self._recon_audio = (trainer.global_step, vocode(recons))
        audio_items = []
        for k, pair in enumerate(zip(self._original_audio[1], self._recon_audio[1])):
            for kind, audio in zip(("original", "recon"), pair):
                path = folder / f"{k}_{kind}.wav"
                with atomic_path(path) as tmp:
                    sf.write(tmp, audio, settings.sample_rate, format="WAV")
                audio_items.append((f"{k}_{kind}", audio))
        png = folder / "mels.png"
        save_mel_comparison(originals, recons, png, title=f"{name}: original (top) vs recon")
        self.written.append(folder)
        _log_previews_to_wandb(trainer, png, audio_items, settings.sample_rate)
        return folder


def save_mel_comparison(
    originals: np.ndarray, recons: np.ndarray, path: Path, title: str = ""
) -> None:
    """PNG grid: originals on the top row, reconstructions below (shared colour scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 4.6), squeeze=False)
    vmax = float(max(originals.max(), recons.max(), 1e-6))
    for k in range(n):
        for row, mel in enumerate((originals[k], recons[k])):
            ax = axes[row][k]
            ax.imshow(mel, origin="lower", aspect="auto", vmin=0.0, vmax=vmax, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][k].set_title(f"chunk {k}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    # fixed margins (inches / figure size): tight_layout measured every text, ~a third of the time
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=1 - 0.6 / 4.6, wspace=0.06)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _log_previews_to_wandb(
    trainer: L.Trainer, png: Path, audio_items: list[tuple[str, np.ndarray]], sample_rate: int
) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        return
    import wandb

    from rvqvae.training.loggers import log_to_wandb

    log_to_wandb(
        trainer,
        {
            "previews/mels": wandb.Image(str(png)),
            "previews/audio": [
                wandb.Audio(audio, sample_rate=sample_rate, caption=caption)
                for caption, audio in audio_items
            ],
        },
    )


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
