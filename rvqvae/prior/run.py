"""One prior training job: VQ-VAE codes -> prior fit -> evaluation -> ``summary.json``."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rvqvae.console import detach_lightning_console
from rvqvae.training.job import JobContext, training_job

log = logging.getLogger(__name__)
# epochs below which a masked prior is warned about (measured: 10 epochs left it barely reading its
# context, 60 gave fills that beat the copy of the neighbouring second, experiments/code_editing)
MASKED_EPOCHS = 60


def train_prior(cfg: DictConfig) -> dict[str, Any]:
    """Train one prior in the Hydra run folder; returns the summary dict."""
    with training_job(kind="prior") as job:
        return _train_prior(cfg, job)


@dataclass
class PriorJob:
    """What the steps of a prior job share: the resolved config and what it built."""

    plain: dict[str, Any]
    codec: Any
    prior: Any
    data: Any
    unigram: Any
    baselines: dict[str, float]


def _train_prior(cfg: DictConfig, job: JobContext) -> dict[str, Any]:
    plain = _settings(cfg, job)  # imports Lightning
    detach_lightning_console()  # Hydra's handlers already print and file Lightning's lines
    parts = _build(plain)
    job.summary.update(_describe(parts))
    module = _module(parts)
    trainer, metrics_cb, previews = _trainer(parts, job)
    job.on_failure = lambda: _metrics_from_rows(metrics_cb.rows)
    job.summary.update(_fit(trainer, module, parts, job))
    job.is_zero = trainer.is_global_zero
    job.summary.update(_metrics_from_rows(metrics_cb.rows))
    if job.is_zero:
        job.summary.update(_evaluate_best(module, parts, previews))
    return job.summary


def _settings(cfg: DictConfig, job: JobContext) -> dict[str, Any]:
    """The resolved config, checked; torch threads and seeds set."""
    import lightning as L

    from rvqvae.prior.sampling import SamplingSettings
    from rvqvae.training.distributed import job_num_threads, set_threads
    from rvqvae.training.validation import ConfigError

    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    lr = (plain.get("optimizer") or {}).get("lr")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ConfigError(f"optimizer.lr must be > 0 (prior.learning_rate sets it), got {lr!r}")
    ev = plain["evaluation"]
    SamplingSettings(ev["temperature"], ev["top_k"], ev["top_p"])  # bad settings: before training
    num_threads = job_num_threads(plain.get("num_threads"), job.hydra_cfg.get("launcher"))
    if num_threads:
        set_threads(num_threads)
    L.seed_everything(plain["seed"], workers=True, verbose=False)
    return plain


def _build(plain: dict[str, Any]) -> PriorJob:
    """The frozen VQ-VAE codec, the prior, its code data and the unigram baseline."""
    from rvqvae.codec.model import Codec
    from rvqvae.prior.checkpoint import resolve_vqvae
    from rvqvae.prior.data import PriorDataModule
    from rvqvae.prior.evaluation import baseline_bits
    from rvqvae.prior.metrics import UnigramBaseline
    from rvqvae.training.checkpoint import read_checkpoint

    vqvae_path = resolve_vqvae(plain["vqvae"])
    read_checkpoint(vqvae_path, accept_prior=False)  # a prior here is refused with one line
    codec = Codec.from_checkpoint(vqvae_path)
    vq = codec.model
    rows = -(-codec.settings.n_mels // 16)
    prior = instantiate(
        plain["prior"]["model"], rows=rows, levels=vq.num_quantizers, codebook_size=vq.codebook_size
    )
    data_cfg = {k: v for k, v in plain["dataset"].items() if k != "_target_"}
    data = PriorDataModule(
        codec, prior.layout, prior.context_columns, seed=plain["seed"], **data_cfg
    )
    data.setup()
    alpha = float(plain["evaluation"]["unigram_alpha"])
    unigram = UnigramBaseline(data.train_grids, vq.codebook_size, alpha)
    baselines = baseline_bits(data, unigram, vq.codebook_size)
    return PriorJob(plain, codec, prior, data, unigram, baselines)


def _describe(parts: PriorJob) -> dict[str, Any]:
    """The summary's description of the job (VQ-VAE, sizes, files, baselines); logged."""
    from rvqvae.prior.checkpoint import vqvae_run_dir

    plain, codec, prior, data = parts.plain, parts.codec, parts.prior, parts.data
    vq = codec.model
    vq_run = vqvae_run_dir(codec.path)
    log.info(
        "prior %s (%d params, %s order) on %d VQ-VAE levels x %d codes: raw %.0f bit/s, "
        "unigram %.0f bit/s",
        plain["prior"].get("size"),
        prior.num_parameters,
        prior.order,
        vq.num_quantizers,
        vq.codebook_size,
        parts.baselines["raw_bits_per_s"],
        parts.baselines["unigram_bits_per_s"],
        extra={"console": False},  # the start line says it on the console
    )
    epochs = int(plain["prior"].get("max_epochs") or 0)
    if prior.order == "masked" and epochs < MASKED_EPOCHS:
        log.warning(
            "a masked prior learns slowly: %d epochs are fewer than its measured %d (on the "
            "default run its 1 s fills scored windowed FD 61.2 after 10 epochs, 22.3 after 30 "
            "and 15.2 after 60, the copy of the neighbouring second 16.7: "
            "experiments/code_editing)",
            epochs,
            MASKED_EPOCHS,
        )
    return {
        "vqvae_checkpoint": str(codec.path),
        "vqvae_run_dir": str(vq_run) if vq_run else None,
        "vqvae_norm_l1": _read_summary(vq_run).get("val/norm_l1"),
        "vqvae_bitrate_bps": codec.bitrate_bps(),
        "num_quantizers": vq.num_quantizers,
        "codebook_size": vq.codebook_size,
        "codebook_dim": vq.codebook_dim,
        "file_count": len(data.train_files)
        + len(data.val_files)
        - (1 if data.train_files == data.val_files else 0),
        "prior": {**prior.hparams_dict, "params": prior.num_parameters},
        "seed": plain["seed"],
        "dataset_kind": data.kind,
        "train_windows_per_epoch": len(data.train_set),
        **parts.baselines,
    }


def _module(parts: PriorJob) -> Any:
    """The LightningModule around the prior (optimizer, schedule, validation in bits/s)."""
    from rvqvae.prior.checkpoint import vqvae_payload
    from rvqvae.prior.module import PriorModule
    from rvqvae.training.run import optimizer_partials

    module = PriorModule(
        parts.prior,
        run_config=parts.plain,
        vqvae_payload=vqvae_payload(parts.codec),
        **parts.plain["module"],
        **optimizer_partials(parts.plain),
    )
    module.val_seconds = parts.data.val_seconds
    module.baselines = parts.baselines
    return module


def _trainer(parts: PriorJob, job: JobContext) -> tuple[Any, Any, Any]:
    """The Trainer with its callbacks and loggers; returns it, the metrics.csv writer and the
    previews."""
    from rvqvae.prior.callbacks import PriorPreviews
    from rvqvae.training.callbacks import EpochMetricsCSV, checkpoint_callbacks
    from rvqvae.training.checkpoint_io import AtomicCheckpointIO
    from rvqvae.training.console_callbacks import OneLineProgressBar, StartLine
    from rvqvae.training.distributed import RANK_STATE_ENV, rank_state_callback
    from rvqvae.training.loggers import build_loggers
    from rvqvae.training.run import check_launcher, is_distributed_config

    plain, codec, prior, data, run_dir = (
        parts.plain,
        parts.codec,
        parts.prior,
        parts.data,
        job.run_dir,
    )
    vq = codec.model
    trainer_cfg = dict(plain["trainer"])
    check_launcher(job.hydra_cfg, is_distributed_config(trainer_cfg))
    trainer_cfg.pop("sync_batchnorm", None)  # no BatchNorm in the prior
    cb = plain["callbacks"]
    slots = prior.slots
    metrics_cb = EpochMetricsCSV(
        run_dir / "metrics.csv", "train/tokens_per_s", lambda batch: int(batch[1].sum()) * slots
    )
    pv, ck = cb["previews"], cb["checkpoints"]
    previews = PriorPreviews(
        run_dir / "previews",
        codec,
        pv["interval"],
        pv["num_chunks"],
        pv["seconds"],
        pv["griffin_lim_iters"],
        plain["seed"],
        pv.get("vocoder", "auto"),
    )
    facts = {
        "VQ-VAE": str(codec.path),
        "prior": f"{plain['prior'].get('size')} ({prior.order} order)",
        "train_files": len(data.train_files),
        "val_files": len(data.val_files),
        "num_quantizers": vq.num_quantizers,
        "codebook_size": vq.codebook_size,
        "codebook_dim": vq.codebook_dim,
        "params": prior.num_parameters,
        "raw/unigram": f"{parts.baselines['raw_bits_per_s']:.0f}/"
        f"{parts.baselines['unigram_bits_per_s']:.0f} bit/s",
    }
    callbacks: list[Any] = [StartLine("training prior", facts), metrics_cb, previews]
    if trainer_cfg.get("enable_progress_bar", True):
        shown = {"loss": ["train/loss_step"], "val bit/s": ["val/bits_per_s"]}
        callbacks.append(OneLineProgressBar(shown, samples_label="seq/s"))
    callbacks += checkpoint_callbacks(
        run_dir / "checkpoints", ck["interval"], ck["max_checkpoints"], monitor="val/nll"
    )
    if os.environ.get(RANK_STATE_ENV):
        callbacks.append(rank_state_callback(run_dir / "rank_state"))
    trainer = instantiate(
        trainer_cfg,
        callbacks=callbacks,
        logger=build_loggers(plain, run_dir, job.is_multirun) or False,
        plugins=[AtomicCheckpointIO()],
    )
    return trainer, metrics_cb, previews


def _fit(trainer: Any, module: Any, parts: PriorJob, job: JobContext) -> dict[str, Any]:
    """Train; returns the fit's time, steps and where its outputs are."""
    from rvqvae.training.distributed import ddp_multirun_job
    from rvqvae.training.run import is_distributed_config

    started = time.perf_counter()
    with ddp_multirun_job(job.hydra_cfg, is_distributed_config(dict(parts.plain["trainer"]))):
        trainer.fit(module, datamodule=parts.data)
    return {
        "train_seconds": time.perf_counter() - started,
        "global_step": trainer.global_step,
        "memorising_from_epoch": module.memorising_from_epoch,
        "best_checkpoint": str(job.run_dir / "checkpoints" / "best.ckpt"),
        "previews": str(job.run_dir / "previews"),
    }


def _evaluate_best(module: Any, parts: PriorJob, previews: Any) -> dict[str, Any]:
    """Load the best weights, measure samples against validation and the reference rows, and
    write final previews."""
    from rvqvae.prior.evaluation import evaluate_prior
    from rvqvae.prior.sampling import SamplingSettings
    from rvqvae.training.checkpoint import load_checkpoint_file

    best = Path(previews.out_dir).parent / "checkpoints" / "best.ckpt"
    if best.is_file():
        state = load_checkpoint_file(best)["state_dict"]
        module.load_state_dict(state)
    prior = module.prior.eval()
    plain, data = parts.plain, parts.data
    ev = plain["evaluation"]
    started = time.perf_counter()
    evaluation, samples = evaluate_prior(
        prior,
        parts.codec,
        data.train_grids,
        data.val_grids,
        data.train_mels,
        data.val_mels,
        parts.unigram,
        int(ev["num_samples"]),
        float(ev["seconds"]),
        SamplingSettings(ev["temperature"], ev["top_k"], ev["top_p"]),
        int(plain["seed"]),
    )
    trainer = module.trainer if module._trainer is not None else None
    previews.write(trainer, samples, "final")
    out = evaluation.to_dict()
    out["eval_wall_seconds"] = time.perf_counter() - started
    numbers = {k: v for k, v in out.items() if isinstance(v, int | float)}
    log.info("prior samples: %s", json.dumps({k: round(v, 4) for k, v in numbers.items()}))
    if trainer is not None:  # the figures beside the samples in W&B (its summary keeps them)
        from rvqvae.training.loggers import log_to_wandb

        log_to_wandb(trainer, numbers)
    return out


def _metrics_from_rows(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Validation figures of the best epoch (the one best.ckpt holds) and of the last epoch."""
    with_val = [r for r in rows if "val/bits_per_s" in r]
    if not with_val:
        return {"epochs": len(rows)}
    last = with_val[-1]
    best = min(with_val, key=lambda r: r["val/nll"])
    levels = sorted(int(k.rsplit("_", 1)[1]) for k in best if k.startswith("val/ce/level_"))
    return {
        "val/nll": best["val/nll"],
        "val/bits_per_s": best["val/bits_per_s"],
        "best/val/bits_per_s": best["val/bits_per_s"],
        "last/val/bits_per_s": last["val/bits_per_s"],
        "best_epoch": int(best["epoch"]),
        "val/ce_per_level": [best[f"val/ce/level_{k}"] for k in levels],
        "val/bits_per_s_per_level": [best[f"val/bits_per_s/level_{k}"] for k in levels],
        "epochs": int(rows[-1]["epoch"]) + 1,
    }


def _read_summary(run_dir: Path | None) -> dict[str, Any]:
    if run_dir is None or not (run_dir / "summary.json").is_file():
        return {}
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
