"""Vocoder checkpoints: the generator's weights, its constructor arguments, the mel settings it
was trained for and the training run's config, as plain tensors and containers (they load with
``torch.load(weights_only=True)`` through :func:`rvqvae.safeload.load_checkpoint_file`).

``python -m rvqvae.train_vocoder`` writes Lightning checkpoints in its run folder and installs
the best generator in the VQ-VAE run folder as ``RUN/vocoder/vocoder.ckpt``
(:func:`installed_vocoder`), where ``vocoder=auto`` finds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rvqvae.atomic import atomic_write
from rvqvae.data.mel import MelSettings
from rvqvae.safeload import CheckpointError, load_checkpoint_file
from rvqvae.vocoder.model import VocosGenerator

VOCODER_KEY = "rvqvae_vocoder"  # the entry a vocoder checkpoint holds
INSTALLED = Path("vocoder") / "vocoder.ckpt"  # inside a VQ-VAE run folder
_COMPARED = ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "power")


@dataclass
class LoadedVocoder:
    """A trained generator (eval mode) with the mel settings and input it was trained for."""

    generator: VocosGenerator
    settings: MelSettings
    input: str = "mel"
    config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def check_settings(self, settings: MelSettings) -> None:
        """Refuse (one line) a vocoder trained for other mel settings than ``settings``."""
        mine, theirs = self.settings.to_dict(), settings.to_dict()
        diff = [f"{k} {mine[k]} vs {theirs[k]}" for k in _COMPARED if mine[k] != theirs[k]]
        if diff:
            raise CheckpointError(
                f"vocoder {self.path} was trained for other mel settings ({', '.join(diff)}): "
                "train one for this model with python -m rvqvae.train_vocoder vqvae=RUN, or "
                "use vocoder=griffinlim"
            )


def vocoder_entry(
    generator: VocosGenerator, settings: MelSettings, input_kind: str, config: dict[str, Any]
) -> dict[str, Any]:
    """What a checkpoint stores beside the weights (``checkpoint[VOCODER_KEY]``)."""
    return {
        "generator": generator.hparams_dict,
        "mel": settings.to_dict(),
        "input": input_kind,
        "config": config,
    }


def save_vocoder(path: str | os.PathLike[str], generator: VocosGenerator, entry: dict) -> Path:
    """Write a generator-only checkpoint atomically (``state_dict`` keys ``generator.*``)."""
    state = {f"generator.{k}": v.detach().cpu() for k, v in generator.state_dict().items()}
    payload = {"state_dict": state, VOCODER_KEY: entry}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: torch.save(payload, fh), fsync=True)
    return Path(path)


def load_vocoder(path: str | os.PathLike[str], device: str = "cpu") -> LoadedVocoder:
    """Load a vocoder checkpoint safely; anything else is refused with one line."""
    checkpoint = load_checkpoint_file(path)
    entry = checkpoint.get(VOCODER_KEY)
    if not isinstance(entry, dict):
        raise CheckpointError(
            f"{path} is not a vocoder checkpoint (written by python -m rvqvae.train_vocoder)"
        )
    try:
        settings = MelSettings(**entry["mel"])
        generator = VocosGenerator(**entry["generator"])
        prefix = "generator."
        state = {
            k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
        }
        generator.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: vocoder weights or config unusable ({first})") from None
    return LoadedVocoder(
        generator=generator.eval().to(torch.device(device)),
        settings=settings,
        input=str(entry.get("input", "mel")),
        config=dict(entry.get("config") or {}),
        path=Path(path),
    )


def run_folder_of(checkpoint: str | os.PathLike[str]) -> Path | None:
    """The run folder of ``.../RUN/checkpoints/x.ckpt``, if the file sits in one."""
    parent = Path(checkpoint).resolve().parent
    return parent.parent if parent.name == "checkpoints" else None


def installed_vocoder(vqvae_checkpoint: str | os.PathLike[str] | None) -> Path | None:
    """``RUN/vocoder/vocoder.ckpt`` of the VQ-VAE run a checkpoint belongs to, if it exists."""
    if vqvae_checkpoint is None:
        return None
    run = run_folder_of(vqvae_checkpoint)
    if run is None or not (run / INSTALLED).is_file():
        return None
    return run / INSTALLED
