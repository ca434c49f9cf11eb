"""Lightning's checkpoint I/O plugin for this project: atomic writes, safe loads.

Apart from :mod:`rvqvae.training.checkpoint` (which the CLIs that train nothing read
checkpoints through) because it imports Lightning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rvqvae.atomic import atomic_write
from rvqvae.safeload import load_checkpoint_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O: atomic writes (:mod:`rvqvae.atomic`) and safe loads.

    A crash mid-write leaves the previous checkpoint intact and readable; every load
    (``trainer.fit(ckpt_path=...)`` included) goes through :func:`load_checkpoint_file`.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        atomic_write(path, lambda fh: torch.save(checkpoint, fh), fsync=True)

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Callable[..., Any] | str | None = None,
        weights_only: bool | None = None,  # ignored: always True
    ) -> dict[str, Any]:
        return load_checkpoint_file(path, map_location or "cpu")
