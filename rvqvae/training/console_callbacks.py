"""The console's Lightning callbacks: the one-line epoch bar and the start line.

- :class:`OneLineProgressBar`: loss, ``val/norm_l1`` and samples/s on the epoch's bar.
- :class:`StartLine`: :func:`rvqvae.console.start_line` once fitting starts, from
  :func:`run_facts` (a set-up trainer, module and datamodule) or the facts it is given.

They live apart from :mod:`rvqvae.console` so that the CLIs which train nothing (encode,
decode, evaluate, generate) start without importing Lightning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from rvqvae.console import device_facts, start_line
from rvqvae.training.callbacks import batch_size_of
from rvqvae.training.config import tier_name_for

log = logging.getLogger(__name__)


def _trainer_facts(trainer: Any) -> dict[str, Any]:
    """Device (``N x`` under DDP), threads and precision of a set-up trainer."""
    facts = device_facts(trainer.strategy.root_device)
    if trainer.world_size > 1:
        facts["device"] = f"{trainer.world_size} x {facts['device']}"
    return {**facts, "precision": str(trainer.precision)}


class OneLineProgressBar(TQDMProgressBar):
    """The epoch bar with only the figures a user watches: ``loss``, ``val/norm_l1``, samples/s.

    ``shown`` maps a label to the logged keys to look for, first found wins. The validation
    bar is off (validation is short), so the console holds one bar line. The bar is redrawn
    at most every ``min_interval_s`` (and at an epoch's last batch): reading the logged figures
    copies them from the device, which on a GPU would wait for every step.
    """

    def __init__(
        self,
        shown: Mapping[str, Sequence[str]] | None = None,
        refresh_rate: int = 1,
        samples_label: str = "samples/s",
        min_interval_s: float = 0.5,
    ) -> None:
        super().__init__(refresh_rate=refresh_rate, leave=False)
        self.shown = {
            k: list(v)
            for k, v in (
                shown or {"loss": ["train/loss_step", "train/loss"], "val/norm_l1": ["val/norm_l1"]}
            ).items()
        }
        self.samples_label = samples_label
        self.min_interval_s = float(min_interval_s)
        self._samples = 0
        self._start: float | None = None
        self._drawn = 0.0  # perf_counter of the last redraw

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self._samples, self._start = 0, time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._samples += batch_size_of(batch)
        now = time.perf_counter()
        last = batch_idx + 1 >= trainer.num_training_batches
        if last or now - self._drawn >= self.min_interval_s:
            self._drawn = now
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, int | str | float]:
        logged = trainer.progress_bar_metrics
        metrics: dict[str, int | str | float] = {}
        for label, keys in self.shown.items():
            for key in keys:
                if key in logged:
                    metrics[label] = f"{float(logged[key]):.3g}"
                    break
        if self._start is not None and self._samples:
            rate = self._samples / max(time.perf_counter() - self._start, 1e-9)
            metrics[self.samples_label] = f"{rate:.0f}"
        return metrics


def _tier(config: Mapping[str, Any]) -> str | None:
    tier = (config.get("codebook") or {}).get("tier")
    count = (config.get("dataset") or {}).get("file_count")
    if tier == "auto" and isinstance(count, int) and count >= 1:
        return f"{tier_name_for(count)} (auto)"
    return tier


def run_facts(trainer: Any, pl_module: Any, datamodule: Any) -> dict[str, Any]:
    """The facts :func:`start_line` shows, read from a set-up trainer, module and datamodule."""
    config = getattr(pl_module, "run_config", {}) or {}
    dataset = config.get("dataset", {})
    model = getattr(pl_module, "model", None)
    facts: dict[str, Any] = {
        "dataset": "synth" if dataset.get("synth") else str(dataset.get("path")),
        "file_count": getattr(datamodule, "file_count", None),
        "train_files": len(getattr(datamodule, "train_files", []) or []),
        "val_files": len(getattr(datamodule, "val_files", []) or []),
        "tier": _tier(config),
        "num_quantizers": getattr(model, "num_quantizers", None),
        "codebook_size": getattr(model, "codebook_size", None),
        "codebook_dim": getattr(model, "codebook_dim", None),
        "params": sum(p.numel() for p in pl_module.parameters()),
        **_trainer_facts(trainer),
    }
    bitrate = getattr(pl_module, "bitrate_bps", None)
    if callable(bitrate):
        try:
            facts["bitrate_bps"] = bitrate()
        except (AttributeError, KeyError, TypeError, ValueError):
            pass
    return {k: v for k, v in facts.items() if v is not None}


class StartLine(Callback):
    """Logs :func:`start_line` once, when fitting starts (data loaded, device chosen).

    ``facts`` given by the caller replace the VQ-VAE run's (:func:`run_facts`); the device,
    threads and precision are added from the trainer.
    """

    def __init__(self, prefix: str = "training", facts: Mapping[str, Any] | None = None) -> None:
        self.prefix = prefix
        self.facts = dict(facts) if facts is not None else None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        if self.facts is None:
            facts = run_facts(trainer, pl_module, trainer.datamodule)
        else:
            facts = {**self.facts, **_trainer_facts(trainer)}
        log.info("%s: %s", self.prefix, start_line(facts))
