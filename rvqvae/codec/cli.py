"""Shared bits of the ``encode`` / ``decode`` / ``evaluate`` Hydra entry points."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf


def one_line(exc: BaseException) -> str:
    """First line of an error message, prefixed with a short kind for unexpected errors."""
    from rvqvae.codec.format import CodecError
    from rvqvae.data.discovery import DatasetError
    from rvqvae.data.io import BadAudioFile
    from rvqvae.training.checkpoint import CheckpointError

    text = (str(exc).strip().splitlines() or [""])[0]
    known = (CodecError, CheckpointError, DatasetError, BadAudioFile)
    return text if isinstance(exc, known) and text else f"{type(exc).__name__}: {text}".strip()


def run_app(name: str, cfg: DictConfig, body: Callable[[dict[str, Any]], Any]) -> Any:
    """Resolve ``cfg`` (``???`` left = error) and run ``body``; one-line errors, exit 1."""
    from rvqvae.console import setup_console

    setup_console()
    log = logging.getLogger(f"rvqvae.{name}")
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        if plain.get("num_threads"):
            import torch

            torch.set_num_threads(int(plain["num_threads"]))
        return body(plain)  # type: ignore[arg-type]
    except Exception as exc:
        msg = one_line(exc)
        if type(exc).__name__ == "MissingMandatoryValue":
            key = getattr(exc, "full_key", "") or msg
            msg = f"missing required argument: {key}=... (see conf/{name}.yaml)"
        log.error("%s", msg)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        sys.exit(1)
