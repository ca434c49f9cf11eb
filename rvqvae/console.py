"""What a run prints: one line per event, no third-party noise, a start line, a one-line bar.

- :func:`setup_console` (called by every CLI): Lightning's own console handler goes (its records
  reach Hydra's console and ``<job>.log`` once), adverts are dropped, third-party deprecation
  noise is filtered by module, and Python warnings (the project's skipped-file notices among
  them) are logged, so they reach the job's log file as well as the console.
- :class:`ConsoleFilter` (on Hydra's console handler, ``conf/hydra/default.yaml``): Lightning's
  INFO chatter stays in the log file only.
- :func:`start_line`: what is being trained on what, in one line (:func:`codec_facts`,
  :func:`device_facts` gather its facts).

Lightning-free, so the CLIs that train nothing start without importing it; the epoch bar and the
start-line callback are in :mod:`rvqvae.training.console_callbacks`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

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


def detach_lightning_console() -> None:
    """Remove the console handler Lightning adds when it is imported (its own "INFO: ..." copy of
    every line): its records reach Hydra's handlers once. Idempotent; call it after importing
    Lightning (the training jobs do, right after their import)."""
    lightning_logger = logging.getLogger("lightning")
    for handler in list(lightning_logger.handlers):
        lightning_logger.removeHandler(handler)
    lightning_logger.propagate = True
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def setup_console() -> None:
    """Make the console one line per event; idempotent, call at the start of a CLI's task."""
    detach_lightning_console()
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


def device_facts(device: Any) -> dict[str, Any]:
    """``device`` and, on CPU, torch's intra-op ``threads``."""
    import torch

    device = str(device)
    return {"device": device, **({"threads": torch.get_num_threads()} if device == "cpu" else {})}


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
        **device_facts(codec.device),
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
