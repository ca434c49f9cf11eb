"""Checkpoint writing (atomic), safe loading, and ``resume=`` resolution."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rvqvae.atomic import default_file_mode
from rvqvae.models.vqvae import ConvVQVAE

MODEL_KEYS = (
    "codebook_dim",
    "codebook_size",
    "num_quantizers",
    "decay",
    "commitment_weight",
    "threshold_ema_dead_code",
    "dropout",
    "kmeans_init",
    "kmeans_iters",
    "quantize_dropout",  # absent from checkpoints written before it existed: off
    "quantize_dropout_cutoff_index",
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, unreadable, unsafe or not an rvqvae one)."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder, then renames it.

    A crash mid-write leaves the previous checkpoint intact and readable.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, default_file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


PRIOR_KEY = "rvqvae_prior"  # the entry a prior checkpoint (python -m rvqvae.train_prior) holds


def load_checkpoint_file(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` (pickled code is refused) and one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling errors, truncated files, wrong format
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"cannot load checkpoint {path} safely (weights_only): {first}"
        ) from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def read_checkpoint(
    path: str | Path, map_location: str = "cpu", accept_prior: bool = True
) -> dict[str, Any]:
    """Load an RVQ-VAE checkpoint safely (``weights_only=True``).

    A prior checkpoint carries its VQ-VAE: with ``accept_prior`` that VQ-VAE is returned in the
    same form (``state_dict`` + ``rvqvae`` entry), else it is refused with a line saying so.
    """
    checkpoint = load_checkpoint_file(path, map_location)
    if PRIOR_KEY in checkpoint:
        if not accept_prior:
            raise CheckpointError(
                f"{path} is a prior checkpoint (python -m rvqvae.train_prior): give an RVQ-VAE "
                "checkpoint or run folder of python -m rvqvae.train"
            )
        vqvae = checkpoint[PRIOR_KEY].get("vqvae") or {}
        if "state_dict" not in vqvae or "config" not in vqvae:
            raise CheckpointError(f"{path}: prior checkpoint without its VQ-VAE weights")
        return {"state_dict": vqvae["state_dict"], "rvqvae": {"config": vqvae["config"]}}
    if "rvqvae" not in checkpoint:
        raise CheckpointError(f"{path} was not written by rvqvae.train (no 'rvqvae' entry)")
    return checkpoint


def model_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """ConvVQVAE constructor arguments stored in an rvqvae checkpoint."""
    model_cfg = checkpoint["rvqvae"]["config"].get("model", {})
    return {k: model_cfg[k] for k in MODEL_KEYS if k in model_cfg}


def load_model(path: str | Path, map_location: str = "cpu") -> ConvVQVAE:
    """Rebuild a trained :class:`ConvVQVAE` in eval mode from a checkpoint file alone."""
    checkpoint = read_checkpoint(path, map_location)
    model = ConvVQVAE(**model_config(checkpoint))
    prefix = "model."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored model config") from exc
    return model.eval()


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """Checkpoint to resume from: a .ckpt path, a run folder (its last.ckpt), or ``auto``."""
    if resume in (None, "", "null"):
        return None
    if resume == "auto":
        candidate = run_dir / "checkpoints" / "last.ckpt"
        return candidate if candidate.is_file() else None
    path = Path(resume)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise CheckpointError(
            f"resume={resume}: no checkpoint at {path} (give a .ckpt file, a run folder, or auto)"
        )
    return path
