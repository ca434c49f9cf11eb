"""THE checkpoint loader (``torch.load(weights_only=True)``) and its error, below every package
that reads checkpoints (the VQ-VAE's and prior's in :mod:`rvqvae.training.checkpoint`, the
vocoder's in :mod:`rvqvae.vocoder.checkpoint`)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, unreadable, unsafe or not an rvqvae one)."""


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """THE checkpoint loader: ``torch.load(weights_only=True)``, explicitly, and one-line errors
    naming the file (pickled code or objects are refused, never executed)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # a pickled global outside tensors and containers
        found = _GLOBAL.search(str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"cannot load checkpoint {path} safely (weights_only): it holds pickled code or "
            f"objects{what}; rvqvae checkpoints hold only tensors and plain data"
        ) from None
    except Exception as exc:  # truncated files, wrong format
        raise CheckpointError(
            f"cannot read checkpoint {path}: damaged or not a PyTorch checkpoint "
            f"({type(exc).__name__})"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint
