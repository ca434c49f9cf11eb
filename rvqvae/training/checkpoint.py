"""Reading checkpoints through THE safe loader, rebuilding models, and ``resume=`` resolution
(atomic writing: :mod:`rvqvae.training.checkpoint_io`).

Every checkpoint this project reads (``load_model``, codecs, priors, ``resume=``, Lightning's
own restore through :class:`~rvqvae.training.checkpoint_io.AtomicCheckpointIO`) goes through
:func:`load_checkpoint_file`, which calls ``torch.load`` with ``weights_only=True`` explicitly,
so environment variables such as ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn pickled code
back on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rvqvae.models.vqvae import ConvVQVAE
from rvqvae.safeload import CheckpointError, load_checkpoint_file

log = logging.getLogger(__name__)

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
    "use_cosine_sim",  # absent from older checkpoints: false
    "rotation_trick",  # absent from older checkpoints: null (the library's default, on)
    "codebook_projection_dim",  # absent from older checkpoints: null (no projection)
    "residual_blocks",  # absent from older checkpoints: 0 (the seed's plain conv stacks)
)


PRIOR_KEY = "rvqvae_prior"  # the entry a prior checkpoint (python -m rvqvae.train_prior) holds


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


def model_from_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> ConvVQVAE:
    """The :class:`ConvVQVAE` (eval mode) of a checkpoint :func:`read_checkpoint` returned."""
    model = ConvVQVAE(**model_config(checkpoint))
    prefix = "model."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(f"{path}: weights do not match the stored model config") from None
    return model.eval()


def load_model(path: str | Path, map_location: str = "cpu") -> ConvVQVAE:
    """Rebuild a trained :class:`ConvVQVAE` in eval mode from a checkpoint file alone."""
    return model_from_checkpoint(read_checkpoint(path, map_location), path)


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """Checkpoint to resume from: a .ckpt path, a run folder (its last.ckpt), or ``auto``."""
    if resume in (None, "", "null"):
        return None
    if resume == "auto":
        candidate = run_dir / "checkpoints" / "last.ckpt"
        if candidate.is_file():
            return candidate
        log.info("resume=auto: no %s yet, nothing to resume: training from epoch 0", candidate)
        return None
    path = Path(resume)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise CheckpointError(
            f"resume={resume}: no checkpoint at {path} (give a .ckpt file, a run folder, or auto)"
        )
    return path
