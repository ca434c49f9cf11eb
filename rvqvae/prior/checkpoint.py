"""Prior checkpoints: they carry the VQ-VAE, so generation needs the prior file alone.

A prior checkpoint is a Lightning checkpoint whose ``state_dict`` holds the prior's weights
(``prior.*``) and whose ``rvqvae_prior`` entry holds the prior run's resolved config, the
prior's constructor arguments and the VQ-VAE (its resolved training config, its weights with the
training mean mel, their sha256 and the path it came from). Everything is plain tensors and
containers, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rvqvae.codec.model import Codec
from rvqvae.prior.model import CodePrior, build_prior
from rvqvae.training.checkpoint import PRIOR_KEY, CheckpointError, load_checkpoint_file


def vqvae_payload(codec: Codec) -> dict[str, Any]:
    """What a prior checkpoint stores of its VQ-VAE (weights, training mean mel, config)."""
    state = {f"model.{k}": v.detach().cpu() for k, v in codec.model.state_dict().items()}
    if codec.mean_train_mel is not None:
        state["mean_train_mel"] = codec.mean_train_mel.detach().cpu()
    return {
        "config": codec.run_config,
        "state_dict": state,
        "weights_sha256": codec.weights_sha256,
        "checkpoint": str(codec.path) if codec.path else None,
    }


def resolve_vqvae(spec: str | os.PathLike[str]) -> Path:
    """``vqvae=``: a run folder (its ``checkpoints/best.ckpt``) or a checkpoint file."""
    path = Path(spec).expanduser()
    if path.is_dir():
        best = path / "checkpoints" / "best.ckpt"
        if not best.is_file():
            raise CheckpointError(
                f"vqvae={spec}: no checkpoints/best.ckpt in that folder (give a run folder of "
                "python -m rvqvae.train or a .ckpt file)"
            )
        return best
    if not path.is_file():
        raise CheckpointError(f"vqvae={spec}: no such run folder or checkpoint file")
    return path


def vqvae_run_dir(checkpoint: Path) -> Path | None:
    """The run folder of ``.../RUN/checkpoints/x.ckpt``, if the file sits in one."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else None


@dataclass
class LoadedPrior:
    """A trained prior (eval mode) with its VQ-VAE codec and the prior run's config."""

    prior: CodePrior
    codec: Codec
    config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def sampling_defaults(self) -> dict[str, Any]:
        return dict(self.config.get("evaluation") or {})


def load_prior(path: str | os.PathLike[str], device: str = "cpu") -> LoadedPrior:
    """Load a prior checkpoint safely; a VQ-VAE checkpoint is refused with a line saying so."""
    checkpoint = load_checkpoint_file(path)
    if PRIOR_KEY not in checkpoint:
        if "rvqvae" in checkpoint:
            raise CheckpointError(
                f"{path} is an RVQ-VAE checkpoint: give a prior checkpoint from python -m "
                "rvqvae.train_prior vqvae=THAT_RUN"
            )
        raise CheckpointError(f"{path} was not written by rvqvae.train_prior")
    entry = checkpoint[PRIOR_KEY]
    hparams = dict(entry.get("prior") or {})
    try:
        prior = build_prior(**hparams)
        state = {
            k[len("prior.") :]: v
            for k, v in checkpoint["state_dict"].items()
            if k.startswith("prior.")
        }
        prior.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"{path}: prior weights do not match its stored config ({first})"
        ) from None
    codec = Codec.from_checkpoint(path, device=device)
    return LoadedPrior(
        prior=prior.eval().to(torch.device(device)),
        codec=codec,
        config=dict(entry.get("config") or {}),
        path=Path(path),
    )
