"""Side-by-side audio of a trained vocoder: original, Griffin-Lim and vocoder, per validation file.

Written to the vocoder run's ``previews/final/`` (``K_original.wav``, ``K_griffinlim.wav``,
``K_vocoder.wav``: what the local report plays side by side) and, when the run logs to W&B, as
one ``wandb.Table`` row per file with the three players (and ``previews/<kind>`` audio lists,
which a W&B media panel shows side by side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from rvqvae.atomic import atomic_write_bytes

PREVIEW_DIR = Path("previews") / "final"
KINDS = ("original", "griffinlim", "vocoder")


def write_side_by_side(
    run_dir: Path,
    clips: list[Any],
    synths: dict[str, Any],
    sample_rate: int,
    source: str = "recon",
) -> list[dict[str, Path]]:
    """For each clip (:class:`rvqvae.vocoder.metrics.Clip`): the original and each of ``synths``
    (``griffinlim``, ``vocoder``: ``f(mel, length)``) from the clip's ``source`` mel
    (``recon``: what ``decode`` and ``generate`` synthesise). Returns ``[{kind: wav path}]``."""
    import io

    folder = run_dir / PREVIEW_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k, clip in enumerate(clips):
        mel = clip.recon if source == "recon" and clip.recon is not None else clip.mel
        audios = {"original": clip.audio}
        audios.update({name: synth(mel, clip.audio.shape[0]) for name, synth in synths.items()})
        paths = {}
        for name, audio in audios.items():
            buffer = io.BytesIO()
            sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV")
            path = folder / f"{k}_{name}.wav"
            atomic_write_bytes(path, buffer.getvalue())
            paths[name] = path
        written.append(paths)
    return written


def log_side_by_side(trainer: Any, written: list[dict[str, Path]], sample_rate: int) -> None:
    """One W&B table row per file: original, Griffin-Lim and vocoder players side by side."""
    from lightning.pytorch.loggers import WandbLogger

    if not any(isinstance(logger, WandbLogger) for logger in trainer.loggers) or not written:
        return
    import wandb

    from rvqvae.training.loggers import log_to_wandb

    kinds = [k for k in KINDS if k in written[0]]
    table = wandb.Table(columns=["file", *kinds])
    players: dict[str, list[Any]] = {name: [] for name in kinds}
    for k, paths in enumerate(written):
        for name in kinds:
            audio = sf.read(paths[name], dtype="float32")[0]
            players[name].append(wandb.Audio(audio, sample_rate=sample_rate, caption=f"{k}_{name}"))
        table.add_data(str(k), *(players[name][-1] for name in kinds))
    data: dict[str, Any] = {f"previews/{name}": players[name] for name in kinds}
    data["previews/side_by_side"] = table  # one row per file, the players side by side
    log_to_wandb(trainer, data)
