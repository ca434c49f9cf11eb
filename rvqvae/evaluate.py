"""``python -m rvqvae.evaluate ckpt=PATH dataset.path=DIR [output=DIR]``: score a checkpoint.

Writes ``eval.json`` (into ``output``, by default this run's folder
``outputs/eval/<date>/<time>/``) and prints a table; metrics in :mod:`rvqvae.codec.evaluation`,
what it sounds like (``perceptual``: ViSQOL, its ceiling, multi-resolution LSD) in
:mod:`rvqvae.vocoder.perceptual`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.evaluate")


def run(cfg: dict[str, Any], output_dir: str | Path | None = None) -> dict[str, Any]:
    """Evaluate ``cfg['ckpt']`` on ``cfg['dataset']['path']``; write and return ``eval.json``."""
    from rvqvae.atomic import atomic_write_json
    from rvqvae.codec import Codec, evaluate_codec, load_eval_chunks
    from rvqvae.codec.evaluation import format_table
    from rvqvae.console import codec_facts, start_line

    codec = Codec.from_checkpoint(cfg["ckpt"], device=cfg.get("device") or "cpu")
    ds = cfg["dataset"]
    log.info("evaluating on %s: %s", ds["path"], start_line(codec_facts(codec)))
    chunks, sources, bad = load_eval_chunks(
        codec, ds["path"], ds.get("cache_dir"), ds.get("silence_threshold_db"), ds.get("max_files")
    )
    files = sorted({str(p) for p, _ in sources})
    result = evaluate_codec(
        codec,
        chunks,
        batch_size=int(cfg["batch_size"]),
        griffin_lim_iters=int(cfg["griffin_lim_iters"]),
        max_audio_chunks=cfg.get("max_audio_chunks"),
        files=[Path(f) for f in files] if cfg.get("speed_files", 0) else None,
        max_speed_files=int(cfg.get("speed_files") or 0),
    )
    out = Path(cfg.get("output") or output_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "checkpoint": str(Path(cfg["ckpt"]).resolve()),
        "weights_sha256": codec.weights_sha256,
        "dataset": str(Path(ds["path"]).resolve()),
        "files": len(files),
        "bad_files": [[str(p), r] for p, r in bad],
        "mel_settings": codec.settings.to_dict(),
        "chunk_frames": codec.chunk_frames,
        "chunk_duration_s": codec.chunk_duration_s,
        **result,
    }
    report["synthesis"] = _synthesis(cfg, codec, files)
    report["perceptual"] = _perceptual(cfg, codec, files)
    atomic_write_json(out / "eval.json", report)
    print(format_table(result))
    if report["perceptual"]:
        from rvqvae.vocoder.perceptual import format_rows

        rows = format_rows(report["perceptual"])
        print("\n".join(f"{name:<32}  {value}" for name, value in rows))
    print(f"eval.json: {out / 'eval.json'}")
    return report


def _synthesis(cfg: dict[str, Any], codec: Any, files: list[str]) -> dict[str, Any] | None:
    """``vocoder=`` vs Griffin-Lim vs the ideal-phase reference on ``synthesis_files`` files."""
    from rvqvae.codec.evaluation import synthesis_comparison
    from rvqvae.data.io import load_audio
    from rvqvae.vocoder.synthesize import build_synthesizer

    count = int(cfg.get("synthesis_files") or 0)
    if count <= 0 or not files:
        return None
    gl_iters = int(cfg["griffin_lim_iters"])
    synth = build_synthesizer(cfg.get("vocoder"), codec.settings, codec.path, gl_iters)
    log.info("audio: %s", synth.describe())
    s = codec.settings
    audios = [load_audio(f, s.sample_rate, codec.normalize_peak) for f in files[:count]]
    seconds, visqol = float(cfg["synthesis_seconds"]), bool(cfg.get("synthesis_visqol", True))
    return synthesis_comparison(codec, audios, synth, gl_iters, seconds, visqol)


def _perceptual(cfg: dict[str, Any], codec: Any, files: list[str]) -> dict[str, Any] | None:
    """ViSQOL (vs the same synthesis of the analysis mel), its ceiling and multi-resolution LSD
    of the reconstruction on ``perceptual_files`` files (:mod:`rvqvae.vocoder.perceptual`)."""
    from rvqvae.codec.evaluation import grid_reconstruction
    from rvqvae.vocoder.perceptual import load_clips, perceptual_scores
    from rvqvae.vocoder.synthesize import build_synthesizer

    count = int(cfg.get("perceptual_files") or 0)
    if count <= 0 or not files:
        return None
    s = codec.settings
    synth = build_synthesizer(cfg.get("vocoder"), s, codec.path, int(cfg["griffin_lim_iters"]))
    seconds = float(cfg["perceptual_seconds"])
    audios = load_clips(files, s, codec.normalize_peak, count, seconds)
    return perceptual_scores(audios, s, grid_reconstruction(codec), synth)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("evaluate", cfg, lambda plain: run(plain, HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
