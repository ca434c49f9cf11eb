"""``python -m rvqvae.generate ckpt=PRIOR.ckpt [seconds=S num_samples=N seed=K output=DIR]``.

Samples code grids from a trained prior (``python -m rvqvae.train_prior``), decodes each in one
VQ-VAE pass and writes ``<name>.wav`` (Griffin-Lim, exactly ``seconds`` long), ``<name>.png``
and ``<name>.codes.npz`` per sample. ``prompt=AUDIO prompt_seconds=S`` continues a recording.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.generate")


class GenerateError(ValueError):
    """A generation setting that cannot work; the message names it."""


def _positive_int(cfg: dict[str, Any], key: str) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GenerateError(f"{key} must be an integer >= 1, got {value!r}")
    return value


def encode_prompt(loaded: Any, path: str, seconds: float | None, total: float) -> Any:
    """Code grid ``[rows, P, Q]`` of the first ``seconds`` of ``path`` (whole columns only)."""
    import torch

    from rvqvae.codec.grid import encode_grid
    from rvqvae.data.io import load_audio
    from rvqvae.data.mel import audio_to_mel
    from rvqvae.models.vqvae import DOWNSAMPLE

    codec = loaded.codec
    s = codec.settings
    audio = load_audio(path, s.sample_rate, codec.normalize_peak)  # BadAudioFile: one line
    duration = audio.shape[0] / s.sample_rate
    if seconds is not None:
        if not isinstance(seconds, int | float) or seconds <= 0:
            raise GenerateError(f"prompt_seconds must be a number > 0, got {seconds!r}")
        if seconds > duration + 1e-6:
            raise GenerateError(
                f"prompt_seconds={seconds:g} is longer than the prompt {path} ({duration:.2f} s)"
            )
        audio = audio[: round(seconds * s.sample_rate)]
    used = audio.shape[0] / s.sample_rate
    if used >= total:
        raise GenerateError(
            f"the prompt ({used:.2f} s of {path}) is not shorter than seconds={total:g}: nothing "
            "left to generate (raise seconds or set prompt_seconds)"
        )
    mel = audio_to_mel(audio, s)
    columns = mel.shape[1] // DOWNSAMPLE
    if columns < 1:
        column_s = DOWNSAMPLE * s.hop_length / s.sample_rate
        raise GenerateError(f"the prompt is shorter than one code column ({column_s:.3f} s)")
    return encode_grid(codec.model, torch.from_numpy(mel[:, : columns * DOWNSAMPLE]))


def _synthesizer(cfg: dict[str, Any], loaded: Any) -> Any:
    """``vocoder=``: ``auto`` looks beside the prior checkpoint, then in the VQ-VAE's run."""
    from rvqvae.prior.checkpoint import resolve_vqvae
    from rvqvae.training.checkpoint import CheckpointError
    from rvqvae.vocoder.synthesize import build_synthesizer

    candidates = [str(cfg["ckpt"])]
    try:
        candidates.append(str(resolve_vqvae(loaded.config.get("vqvae") or "")))
    except CheckpointError:
        pass  # the VQ-VAE run is gone: the prior's own folder only
    codec = loaded.codec
    return build_synthesizer(
        cfg.get("vocoder"), codec.settings, candidates, int(cfg["griffin_lim_iters"])
    )


def run(cfg: dict[str, Any], run_dir: str) -> list[dict[str, Path]]:
    """Generate ``num_samples`` files into ``cfg['output']`` (default ``run_dir``)."""
    from tqdm import tqdm

    from rvqvae.console import codec_facts, start_line
    from rvqvae.prior.checkpoint import load_prior
    from rvqvae.prior.evaluation import length_for, sample
    from rvqvae.prior.sampling import SamplingSettings
    from rvqvae.prior.writer import write_sample

    settings = SamplingSettings(cfg["temperature"], cfg["top_k"], cfg["top_p"])
    num, batch = _positive_int(cfg, "num_samples"), _positive_int(cfg, "batch_size")
    seconds = cfg["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise GenerateError(f"seconds must be a number > 0, got {seconds!r}")
    loaded = load_prior(cfg["ckpt"], device=cfg.get("device") or "cpu")
    synth = _synthesizer(cfg, loaded)
    prompt = None
    if cfg.get("prompt"):
        prompt = encode_prompt(loaded, str(cfg["prompt"]), cfg.get("prompt_seconds"), seconds)
    out = Path(cfg.get("output") or run_dir).expanduser()
    _, _, columns = length_for(loaded.codec, seconds)
    facts = codec_facts(loaded.codec)
    facts["checkpoint"] = str(cfg["ckpt"])
    facts["params"] = sum(p.numel() for p in loaded.prior.parameters())
    facts["sampling"] = ", ".join(f"{k} {v}" for k, v in settings.to_dict().items())
    log.info("generating %d x %g s into %s: %s", num, seconds, out, start_line(facts))
    log.info("audio: %s", synth.describe())
    first = 0 if prompt is None else prompt.shape[1]
    started = time.perf_counter()
    written: list[dict[str, Path]] = []
    sampling_s = 0.0
    with tqdm(total=num * (columns - first), unit="col", desc="generating", disable=None) as bar:
        for b0 in range(0, num, batch):
            n = min(batch, num - b0)
            done = [0]

            def progress(column: int, done: list[int] = done) -> None:
                bar.update(column - first - done[0])
                done[0] = column - first

            samples = sample(
                loaded.prior,
                loaded.codec,
                n,
                seconds,
                settings,
                seed=int(cfg["seed"]) + b0,
                prompt=prompt,
                progress=progress,
            )
            sampling_s += samples.sampling_seconds
            provenance = {
                "prior_checkpoint": str(Path(cfg["ckpt"]).resolve()),
                "seed": int(cfg["seed"]) + b0,
                "sampling": settings.to_dict(),
                "prompt": str(cfg["prompt"]) if prompt is not None else None,
                "prompt_columns": first,
            }
            for k in range(n):
                name = f"sample_{b0 + k:03d}"
                written.append(
                    write_sample(
                        loaded.codec,
                        samples.mels[k],
                        samples.num_samples,
                        out,
                        name,
                        int(cfg["griffin_lim_iters"]),
                        samples.grids[k],
                        {**provenance, "index": k},
                        synth,
                    )
                )
    wall = time.perf_counter() - started
    audio_s = num * float(seconds)
    print(
        f"generated {num} file(s) of {seconds:g} s into {out} in {wall:.1f} s "
        f"({audio_s / wall:.1f}x real time with audio; codes alone {audio_s / sampling_s:.1f}x); "
        f"audio: {synth.describe()}"
    )
    return written


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("generate", cfg, lambda plain: run(plain, HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
