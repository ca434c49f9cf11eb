"""What a run prints: one line per event, no third-party noise, a start line, a one-line bar.

- :func:`setup_console` (called by every CLI): Lightning's own console handler goes (its records
  reach Hydra's console and ``<job>.log`` once), adverts are dropped, third-party deprecation
  noise is filtered by module, and Python warnings (the project's skipped-file notices among
  them) are logged, so they reach the job's log file as well as the console.
- :class:`ConsoleFilter` (on Hydra's console handler, ``conf/hydra/default.yaml``): Lightning's
  INFO chatter stays in the log file only.
- :func:`start_line`: what is being trained on what, in one line.
- :class:`OneLineProgressBar`: loss, ``val/norm_l1`` and samples/s on the epoch's bar.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from rvqvae.training.callbacks import batch_size_of

log = logging.getLogger(__name__)

# (warning module regex, message regex): third-party notices that say nothing about this run
_THIRD_PARTY_WARNINGS: tuple[tuple[str, str], ...] = (
    (r"lightning\.pytorch\.utilities\._pytree", ""),  # a deprecation inside Lightning itself
    (r"lightning\.fabric\.plugins\.environments\.slurm", r"The `srun` command is available"),
)
_ADVERT_PREFIXES = ("💡 Tip:",)
_QUIET_LOGGERS = ("matplotlib", "PIL", "numba", "fsspec", "urllib3", "git")


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_ADVERT_PREFIXES)


class ConsoleFilter(logging.Filter):
    """Console only: drop INFO records of third-party loggers and records logged with
    ``extra={"console": False}`` (details the start line already says); the log file keeps them.
    """

    def __init__(self, own_prefixes: Sequence[str] = ("rvqvae", "__main__")) -> None:
        super().__init__()
        self.own_prefixes = tuple(own_prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.name.startswith(self.own_prefixes) and getattr(record, "console", True)


class ConsoleFormatter(logging.Formatter):
    """``[HH:MM:SS] message``; warnings and errors keep their level: ``[..] ERROR: message``."""

    def __init__(self, datefmt: str = "%H:%M:%S") -> None:
        super().__init__("[%(asctime)s] %(message)s", datefmt=datefmt)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            stamp, _, rest = text.partition("] ")
            text = f"{stamp}] {record.levelname}: {rest}"
        return text


def _show_warning_as_log(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` replacement: one log line, no source excerpt."""
    name = category.__name__
    prefix = "" if name in ("UserWarning", "DatasetWarning") else f"{name}: "
    logging.getLogger("py.warnings").warning("%s%s", prefix, message)


def setup_console() -> None:
    """Make the console one line per event; idempotent, call at the start of a CLI's task."""
    lightning_logger = logging.getLogger("lightning")
    for handler in list(lightning_logger.handlers):  # its own "INFO: ..." copy of every line
        lightning_logger.removeHandler(handler)
    lightning_logger.propagate = True
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in rank_zero.filters):
        rank_zero.addFilter(_DropAdverts())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for module, message in _THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)
    warnings.showwarning = _show_warning_as_log


def _thousands(count: int) -> str:
    return f"{count / 1e6:.1f} M" if count >= 1e6 else f"{count / 1e3:.0f} K"


_START_KEYS = {
    "dataset",
    "file_count",
    "train_files",
    "val_files",
    "tier",
    "num_quantizers",
    "codebook_size",
    "codebook_dim",
    "bitrate_bps",
    "params",
    "device",
    "threads",
    "precision",
}


def _device_facts(device: Any) -> dict[str, Any]:
    """``device`` and, on CPU, torch's intra-op ``threads``."""
    import torch

    device = str(device)
    return {"device": device, **({"threads": torch.get_num_threads()} if device == "cpu" else {})}


def _trainer_facts(trainer: Any) -> dict[str, Any]:
    """Device (``N x`` under DDP), threads and precision of a set-up trainer."""
    facts = _device_facts(trainer.strategy.root_device)
    if trainer.world_size > 1:
        facts["device"] = f"{trainer.world_size} x {facts['device']}"
    return {**facts, "precision": str(trainer.precision)}


def codec_facts(codec: Any) -> dict[str, Any]:
    """The :func:`start_line` facts of a loaded codec (checkpoint, model, device)."""
    model = codec.model
    return {
        "checkpoint": str(codec.path),
        "num_quantizers": model.num_quantizers,
        "codebook_size": model.codebook_size,
        "codebook_dim": model.codebook_dim,
        "bitrate_bps": codec.bitrate_bps(),
        "params": sum(p.numel() for p in model.parameters()),
        **_device_facts(codec.device),
    }


def start_line(facts: Mapping[str, Any]) -> str:
    """One line saying what is trained on what, from the run's facts (missing ones left out).

    Keys: dataset, file_count, tier, num_quantizers, codebook_size, codebook_dim, bitrate_bps,
    train_files, val_files, device, precision, params, threads; any other key is shown as
    ``key value`` at the end.
    """
    parts: list[str] = []
    if "dataset" in facts:
        parts.append(f"{facts['dataset']} ({facts.get('file_count', '?')} files)")
    if "train_files" in facts:
        parts.append(f"train/val {facts['train_files']}/{facts.get('val_files', '?')} files")
    if "tier" in facts:
        parts.append(f"tier {facts['tier']}")
    if "num_quantizers" in facts:
        parts.append(
            f"RVQ {facts['num_quantizers']} levels x {facts.get('codebook_size', '?')} codes"
            f" x dim {facts.get('codebook_dim', '?')}"
        )
    if facts.get("bitrate_bps") is not None:
        parts.append(f"{facts['bitrate_bps']:.0f} bit/s")
    if facts.get("params") is not None:
        parts.append(f"{_thousands(int(facts['params']))} params")
    device = facts.get("device")
    if device is not None:
        threads = facts.get("threads")
        parts.append(f"{device}" + (f" ({threads} threads)" if threads else ""))
    if facts.get("precision") is not None:
        parts.append(f"precision {facts['precision']}")
    parts += [f"{key} {value}" for key, value in facts.items() if key not in _START_KEYS]
    return ", ".join(parts)


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
        from rvqvae.training.config import tier_name_for

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
