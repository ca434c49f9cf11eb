"""One vocoder training job: VQ-VAE run -> (mel, audio) crops -> generator fit -> comparison
with Griffin-Lim and the ideal-phase reference -> ``summary.json``; the best generator is
installed as ``RUN/vocoder/vocoder.ckpt`` of the VQ-VAE run (``vocoder=auto`` finds it)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rvqvae.training.job import JobContext, training_job

log = logging.getLogger(__name__)


def train_vocoder(cfg: DictConfig) -> dict[str, Any]:
    """Train one vocoder in the Hydra run folder; returns the summary dict."""
    with training_job(kind="vocoder") as job:
        return _train_vocoder(cfg, job)


def _train_vocoder(cfg: DictConfig, job: JobContext) -> dict[str, Any]:
    import lightning as L
    import torch

    from rvqvae.codec.model import Codec
    from rvqvae.console import detach_lightning_console
    from rvqvae.data.mel import mel_filterbank
    from rvqvae.prior.checkpoint import resolve_vqvae
    from rvqvae.training.callbacks import EpochMetricsCSV, checkpoint_callbacks
    from rvqvae.training.checkpoint import read_checkpoint
    from rvqvae.training.checkpoint_io import AtomicCheckpointIO
    from rvqvae.training.console_callbacks import OneLineProgressBar, StartLine
    from rvqvae.training.distributed import job_num_threads, set_threads
    from rvqvae.training.loggers import build_loggers, log_to_wandb
    from rvqvae.training.run import optimizer_partials
    from rvqvae.training.validation import ConfigError
    from rvqvae.vocoder.checkpoint import INSTALLED, run_folder_of, vocoder_entry
    from rvqvae.vocoder.metrics import flat_synthesis
    from rvqvae.vocoder.model import VocosGenerator
    from rvqvae.vocoder_training.data import VocoderDataModule
    from rvqvae.vocoder_training.module import VocoderModule

    detach_lightning_console()  # Hydra's handlers already print and file Lightning's lines
    run_dir, summary = job.run_dir, job.summary
    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    num_threads = job_num_threads(plain.get("num_threads"), job.hydra_cfg.get("launcher"))
    if num_threads:
        set_threads(num_threads)
    L.seed_everything(plain["seed"], workers=True, verbose=False)

    vqvae_path = resolve_vqvae(plain["vqvae"])
    read_checkpoint(vqvae_path, accept_prior=False)  # a prior here is refused with one line
    codec = Codec.from_checkpoint(vqvae_path)
    s = codec.settings
    voc = plain["vocoder"]
    data = VocoderDataModule(
        codec,
        input=voc["input"],
        seed=plain["seed"],
        **{k: v for k, v in plain["dataset"].items() if k != "_target_"},
    )
    data.setup()
    generator = VocosGenerator(s.n_mels, s.n_fft, s.hop_length, **voc["model"])
    if generator.hparams_dict["mel_skip"]:
        if s.power != 2.0:
            raise ConfigError("vocoder.model.mel_skip needs mels of power 2: set it to false")
        generator.set_mel_basis(torch.from_numpy(mel_filterbank(s).copy()))
    entry = vocoder_entry(generator, s, voc["input"], plain)
    entry["vqvae_weights_sha256"] = codec.weights_sha256
    trainer_cfg = dict(plain["trainer"])
    trainer_cfg.pop("sync_batchnorm", None)
    gan = dict(voc["gan"]) if voc.get("adversarial") else None
    clip = trainer_cfg.pop("gradient_clip_val", None) if gan else None  # clipped by the module
    module = VocoderModule(
        generator, s, entry, voc["loss"], **optimizer_partials(plain), gan=gan, clip=clip or 1.0
    )
    vq_run = run_folder_of(vqvae_path)
    summary.update(
        {
            "vqvae_checkpoint": str(vqvae_path),
            "vqvae_run_dir": str(vq_run) if vq_run else None,
            "input": voc["input"],
            "adversarial": bool(gan),
            "size": voc.get("size"),
            "generator": {**generator.hparams_dict, "params": generator.num_parameters},
            "train_files": len(data.train),
            "val_files": len(data.val),
            "seed": plain["seed"],
        }
    )
    ck = plain["callbacks"]["checkpoints"]
    metrics_cb = EpochMetricsCSV(
        run_dir / "metrics.csv",
        "train/seconds_per_s",
        lambda batch: batch[1].shape[-1] / s.sample_rate,
    )
    facts = {
        "VQ-VAE": str(vqvae_path),
        "vocoder": f"{voc.get('size')} (input={voc['input']})",
        "train_files": len(data.train),
        "val_files": len(data.val),
        "params": generator.num_parameters,
    }
    callbacks: list[Any] = [StartLine("training vocoder", facts), metrics_cb]
    if trainer_cfg.get("enable_progress_bar", True):
        shown = {"loss": ["train/loss_step"], "val mel L1": ["val/mel_l1"]}
        callbacks.append(OneLineProgressBar(shown, samples_label="crops/s"))
    callbacks += checkpoint_callbacks(
        run_dir / "checkpoints", ck["interval"], ck["max_checkpoints"], monitor="val/loss"
    )
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=build_loggers(plain, run_dir, job.is_multirun) or False,
        plugins=[AtomicCheckpointIO()],
    )
    fit_start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    summary["train_seconds"] = time.perf_counter() - fit_start
    summary["global_step"] = trainer.global_step
    summary.update(_metrics_from_rows(metrics_cb.rows))
    best = run_dir / "checkpoints" / "best.ckpt"
    summary["best_checkpoint"] = str(best)
    if not trainer.is_global_zero:
        return summary
    installed = install_vocoder(best, vq_run / INSTALLED if vq_run and voc["install"] else None)
    summary["installed"] = str(installed) if installed else None
    ev = plain["evaluation"]
    if int(ev["max_files"]) > 0:
        summary["synthesis"] = _evaluate(best, codec, data, ev)
        flat = flat_synthesis(summary["synthesis"])
        summary.update(flat)
        log_to_wandb(trainer, flat)  # the figures beside the side-by-side audio in W&B
        _previews(trainer, run_dir, best, codec, data, ev)
    return summary


def install_vocoder(best: Path, target: Path | None) -> Path | None:
    """Copy the best generator (weights and entry only) to ``target`` atomically; the console
    line says when it replaces a vocoder installed there before (that run keeps its own)."""
    from rvqvae.safeload import load_checkpoint_file
    from rvqvae.vocoder.checkpoint import VOCODER_KEY, load_vocoder, save_vocoder

    if target is None or not best.is_file():
        return None
    replacing = target.is_file()
    loaded = load_vocoder(best)
    save_vocoder(target, loaded.generator, load_checkpoint_file(best)[VOCODER_KEY])
    note = " (replacing the one installed before; vocoder.install=false keeps it)"
    log.info("vocoder installed for vocoder=auto: %s%s", target, note if replacing else "")
    return target


def _previews(
    trainer: Any, run_dir: Path, best: Path, codec: Any, data: Any, ev: dict[str, Any]
) -> None:
    """Original, Griffin-Lim and vocoder side by side for ``evaluation.preview_files`` validation
    files (from the VQ-VAE reconstruction): ``previews/final/`` and W&B."""
    from rvqvae.codec.evaluation import synthesis_clips
    from rvqvae.vocoder.synthesize import Synthesizer, build_synthesizer
    from rvqvae.vocoder_training.previews import log_side_by_side, write_side_by_side

    count = int(ev.get("preview_files", 2))
    if count <= 0:
        return
    s = codec.settings
    audios = [f.audio for f in data.val[:count]]
    clips = synthesis_clips(codec, audios, float(ev["max_seconds"]))
    synths = {
        "griffinlim": Synthesizer(s, None, int(ev["griffin_lim_iters"])),
        "vocoder": build_synthesizer(best, s),
    }
    written = write_side_by_side(run_dir, clips, synths, s.sample_rate)
    log_side_by_side(trainer, written, s.sample_rate)


def _evaluate(best: Path, codec: Any, data: Any, ev: dict[str, Any]) -> dict[str, Any]:
    """Griffin-Lim vs the best vocoder vs the ideal-phase reference on validation files."""
    from rvqvae.codec.evaluation import synthesis_comparison
    from rvqvae.vocoder.synthesize import build_synthesizer

    vocoder = build_synthesizer(best, codec.settings)
    audios = [f.audio for f in data.val[: int(ev["max_files"])]]
    gl_iters = int(ev["griffin_lim_iters"])
    seconds, visqol = float(ev["max_seconds"]), bool(ev.get("visqol", True))
    result = synthesis_comparison(codec, audios, vocoder, gl_iters, seconds, visqol)
    log.info("vocoder vs Griffin-Lim: %s", json.dumps(result.get("gap_closed")))
    return result


def _metrics_from_rows(rows: list[dict[str, float]]) -> dict[str, Any]:
    with_val = [r for r in rows if "val/loss" in r]
    if not with_val:
        return {"epochs": len(rows)}
    best = min(with_val, key=lambda r: r["val/loss"])
    return {
        "val/loss": best["val/loss"],
        "val/mel_l1": best.get("val/mel_l1"),
        "val/stft": best.get("val/stft"),
        "best_epoch": int(best["epoch"]),
        "last/val/loss": with_val[-1]["val/loss"],
        "epochs": int(rows[-1]["epoch"]) + 1,
    }
