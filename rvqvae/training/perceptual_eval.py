"""The end-of-training listening test, ``evaluation.perceptual`` (conf/train.yaml).

After the fit, rank 0 scores the final model on the first ``max_files`` validation files
(their first ``max_seconds``) with :func:`rvqvae.vocoder.perceptual.perceptual_scores`: ViSQOL
of the reconstruction against the same synthesis of the analysis mel, the ViSQOL ceiling and
multi-resolution LSD. ``summary.json`` gets ``val/visqol``, ``val/visqol_ceiling``,
``val/lsd``, ``val/lsd_ceiling`` and the details under ``perceptual``. ``max_files=0`` (or
``evaluation.perceptual=null``) turns it off; a failure is a warning, never a failed run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def perceptual_node(plain: dict[str, Any]) -> dict[str, Any] | None:
    """The ``evaluation.perceptual`` settings, or None when the evaluation is off."""
    node = (plain.get("evaluation") or {}).get("perceptual")
    if not isinstance(node, dict) or not int(node.get("max_files") or 0):
        return None
    return node


def model_reconstruction(model: torch.nn.Module) -> Any:
    """Analysis mel ``[n_mels, F]`` -> ``model``'s reconstruction (one whole-file pass)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def reconstruct(mel: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(mel, np.float32))[None, None].to(device)
        was_training = model.training
        model.eval()
        try:
            recon = model(x)[0]
        finally:
            model.train(was_training)
        return recon[0, 0].float().cpu().numpy()

    return reconstruct


def end_of_run_scores(
    plain: dict[str, Any], model: torch.nn.Module, datamodule: Any, run_dir: Path
) -> dict[str, Any]:
    """Summary entries of the perceptual evaluation (``{}`` when it is off or finds no file)."""
    node = perceptual_node(plain)
    files = list(getattr(datamodule, "val_files", []) or [])
    if node is None or not files:
        return {}
    from rvqvae.vocoder.perceptual import load_clips, perceptual_scores, summary_entries
    from rvqvae.vocoder.synthesize import build_synthesizer

    try:
        settings = datamodule.settings
        synth = build_synthesizer(
            node.get("vocoder"),
            settings,
            run_dir / "checkpoints" / "best.ckpt",
            int(node["griffin_lim_iters"]),
        )
        audios = load_clips(
            files,
            settings,
            bool(getattr(datamodule, "normalize_peak", True)),
            int(node["max_files"]),
            float(node["max_seconds"]),
        )
        result = perceptual_scores(audios, settings, model_reconstruction(model), synth)
    except Exception as exc:  # the run trained: a missing metric must not fail it
        log.warning("perceptual evaluation skipped: %s: %s", type(exc).__name__, exc)
        return {"perceptual": {"error": f"{type(exc).__name__}: {exc}"}}
    log.info(
        "sounds like: ViSQOL %.2f (ceiling %.2f), multi-resolution LSD %.2f (ceiling %.2f) on "
        "%d validation files (%.1f s of audio; %s) in %.1f s",
        result["visqol"],
        result["visqol_ceiling"],
        result["lsd"],
        result["lsd_ceiling"],
        result["files"],
        result["audio_seconds"],
        result["synthesis"],
        result["eval_seconds"],
    )
    return {**summary_entries(result), "perceptual": result}
