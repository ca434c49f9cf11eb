"""Training throughput: the bare ConvVQVAE step vs the full pipeline, FLOPs, matmul ceiling.

    .venv/bin/python benchmarks/train_step.py [--rounds 2] [--epochs 6] [--steps 24]

*bare*: forward + backward + AdamW step (+ grad-norm clipping, as the Trainer does) of the
default run's model (synth dataset tier) on in-memory random mels ``[32, 1, 128, 94]``, at the
pipeline's precision (bf16 autocast where the run resolves to bf16-mixed; the matmul ceiling is
then a bf16 matmul).
*pipeline*: ``rvqvae.training.run.train`` in this process on the default synth config
(MelDataModule with augmentation, RVQVAEModule, Trainer, EpochMetricsCSV, Previews,
checkpoints, CSV logger, codebook health in validation). Its rate is training samples over
the wall time of whole epochs (validation, metrics, checkpoints included; epoch 0 skipped),
read from ``metrics.csv``'s ``time_s``. Previews (every ``callbacks.previews.interval``
epochs, 20 by default) are timed separately and amortised over their interval.

Bare and pipeline runs alternate (bare, pipeline, bare, ...) and each pipeline run is compared
with the mean of the bare runs around it: the machine may be shared, so ratios measured
side by side are the figures to trust.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compose_plain, load_average, median, print_figures  # noqa: E402

BATCH = 32


def build_model(plain: dict[str, Any]) -> Any:
    """The run's ConvVQVAE, built as ``run.train`` builds it."""
    from hydra.utils import instantiate

    from rvqvae.models.vqvae import code_positions
    from rvqvae.training.module import chunk_geometry
    from rvqvae.training.run import effective_dead_code_threshold

    model_cfg = dict(plain["model"])
    per_chunk = code_positions(*chunk_geometry(plain)[:2])
    model_cfg["threshold_ema_dead_code"] = effective_dead_code_threshold(
        model_cfg["threshold_ema_dead_code"], BATCH, per_chunk, model_cfg["codebook_size"]
    )
    return instantiate(model_cfg)


def random_mels(n: int, seed: int = 0) -> Any:
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 128, 94, generator=g) * 3.0  # log1p(power)-like, >= 0


class BareStep:
    """Model + AdamW on fixed random batches; ``run(steps)`` returns samples/s."""

    def __init__(
        self,
        plain: dict[str, Any],
        device: str = "cpu",
        bf16: bool = False,
        batch: int = BATCH,
        foreach: bool | None = None,
        channels_last: bool = False,
        compile_mode: str | None = None,
    ) -> None:
        import torch

        self.plain = plain
        self.device = torch.device(device)
        self.bf16 = bf16
        self.batch = batch
        self.channels_last = channels_last
        self.model = build_model(plain).to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        init = random_mels(64, seed=1).to(self.device)
        self.model.quantizer.init_codebooks(self.model.encode(init).detach().flatten(2).mT)
        if compile_mode:  # as RVQVAEModule(compile_model=True) does, after the init
            self.model.encoder.compile(mode=compile_mode)
            self.model.decoder.compile(mode=compile_mode)
        self.opt = torch.optim.AdamW(
            self.model.parameters(),
            lr=plain["optimizer"]["lr"],
            weight_decay=plain["optimizer"]["weight_decay"],
            foreach=foreach,
        )
        self.clip = float(plain["trainer"].get("gradient_clip_val") or 0.0)
        self.batches = [random_mels(batch, seed=s).to(self.device) for s in range(4)]
        if channels_last:
            self.batches = [b.to(memory_format=torch.channels_last) for b in self.batches]
        self.weight = float(plain["module"]["commit_loss_weight"])
        t = time.perf_counter()
        self.step(self.batches[0])  # warm-up (allocator, oneDNN primitive cache, compilation)
        self.step(self.batches[1])
        self.step(self.batches[2])  # CUDA graphs are recorded after a warm-up step
        from rvqvae.timing import synchronize

        synchronize(self.device)
        self.warmup_s = time.perf_counter() - t  # includes compile time with compile_mode

    def step(self, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            recon, _, commit = self.model(x)
            loss = F.l1_loss(recon.float(), x) + self.weight * commit
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        return loss.detach()

    def run(self, steps: int) -> float:
        from rvqvae.timing import synchronize

        synchronize(self.device)  # queued warm-up work is not this run's
        t = time.perf_counter()
        for i in range(steps):
            self.step(self.batches[i % len(self.batches)])
        synchronize(self.device)  # CUDA runs asynchronously: wait before reading the clock
        return steps * self.batch / (time.perf_counter() - t)


def flops_per_sample(plain: dict[str, Any]) -> float:
    """Forward + backward FLOPs of one training sample (torch's FlopCounterMode, batch 32)."""
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(plain)
    x = random_mels(BATCH)
    model.quantizer.init_codebooks(model.encode(x).detach().flatten(2).mT)
    counter = FlopCounterMode(display=False)
    with counter:
        recon, _, commit = model(x)
        (F.l1_loss(recon, x) + commit).backward()
    return counter.get_total_flops() / BATCH


def matmul_flops_per_s(n: int = 2048, seconds: float = 2.0, bf16: bool = False) -> float:
    """FLOP/s of ``n x n @ n x n`` in float32 (or bf16): the practical ceiling, best of runs."""
    import torch

    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def datamodule(plain: dict[str, Any]) -> Any:
    """The run's MelDataModule, set up (from the feature cache after the first run)."""
    from hydra.utils import instantiate

    dm = instantiate({k: v for k, v in plain["dataset"].items() if k != "file_count"})
    dm.setup()
    return dm


def pipeline_run(
    overrides: list[str], work: Path, tag: str, samples_per_epoch: int
) -> dict[str, float]:
    """One in-process ``run.train``; samples/s over whole epochs 1.. (from metrics.csv)."""
    from rvqvae.training.run import train

    out = work / tag
    cfg, plain = compose_plain(overrides, out)
    t0 = time.perf_counter()
    summary = train(cfg)
    wall = time.perf_counter() - t0
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    times = [float(r["time_s"]) for r in rows]
    inner = [float(r["train/samples_per_s"]) for r in rows[1:]]
    del summary
    return {
        "samples_per_s": samples_per_epoch * (len(rows) - 1) / (times[-1] - times[0]),
        "train_loop_samples_per_s": median(inner),
        "epoch_s": (times[-1] - times[0]) / (len(rows) - 1),
        "wall_s": wall,
        "samples_per_epoch": samples_per_epoch,
        "preview_interval": plain["callbacks"]["previews"]["interval"],
    }


def preview_seconds(overrides: list[str], work: Path) -> float:
    """Wall time of one Previews.write (4 chunks x 2 Griffin-Lim inversions, PNG)."""
    import torch

    from rvqvae.training.previews import Previews

    _, plain = compose_plain(overrides, work / "preview")
    dm = datamodule(plain)
    module = torch.nn.Module()
    module.model = build_model(plain)
    module.model.eval()

    class _Trainer:
        is_global_zero = True
        datamodule = dm
        loggers: list[Any] = []
        global_step = 0

    cb = plain["callbacks"]["previews"]
    previews = Previews(work / "preview", 1, cb["num_chunks"], cb["griffin_lim_iters"])
    module.device = torch.device("cpu")  # type: ignore[assignment]
    previews.write(_Trainer(), module, "warmup")  # type: ignore[arg-type]
    _Trainer.global_step = 1  # a later preview: the originals' audio is cached, not the recon's
    t = time.perf_counter()
    previews.write(_Trainer(), module, "timed")  # type: ignore[arg-type]
    return time.perf_counter() - t


def run(rounds: int = 2, epochs: int = 6, steps: int = 24, extra: list[str] | None = None) -> dict:
    """Alternate bare and pipeline measurements; returns the ``train.*`` figures."""

    overrides = [
        f"trainer.max_epochs={epochs}",
        "logger=csv",
        f"dataset.batch_size={BATCH}",
        *(extra or []),
    ]
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-train-"))
    _, plain = compose_plain(overrides, work / "compose")
    dm = datamodule(plain)
    samples_per_epoch = dm._batcher.num_chunks * dm.augmentation_expansion
    precision = str(plain["trainer"]["precision"])  # the bare step runs as the pipeline does
    bf16 = precision.startswith("bf16")
    bare = BareStep(plain, bf16=bf16)
    bares = [bare.run(steps)]
    pipes: list[dict[str, float]] = []
    ratios: list[float] = []
    for r in range(rounds):
        pipes.append(pipeline_run(overrides, work, f"run{r}", samples_per_epoch))
        bares.append(bare.run(steps))
        ratios.append(pipes[-1]["samples_per_s"] / ((bares[-2] + bares[-1]) / 2))
        print(
            f"round {r}: bare {bares[-2]:.1f} / {bares[-1]:.1f} samples/s, pipeline "
            f"{pipes[-1]['samples_per_s']:.1f} samples/s (train loop "
            f"{pipes[-1]['train_loop_samples_per_s']:.1f}) -> ratio {ratios[-1]:.3f}  "
            f"[load {load_average()}]",
            flush=True,
        )
    preview_s = preview_seconds(overrides, work)
    interval = pipes[-1]["preview_interval"]
    epoch_s = median([p["epoch_s"] for p in pipes])
    with_previews = [p["samples_per_epoch"] / (p["epoch_s"] + preview_s / interval) for p in pipes]
    flops = flops_per_sample(plain)
    t = time.perf_counter()
    ceiling = matmul_flops_per_s(bf16=bf16)
    bare_now = bare.run(steps)
    achieved = flops * bare_now
    print(f"matmul ceiling {ceiling / 1e9:.1f} GFLOP/s ({time.perf_counter() - t:.1f} s)")
    bare_sps = median(bares)
    return {
        "train.batch_size": BATCH,
        "train.precision": precision,
        "train.bare_samples_per_s": bare_sps,
        "train.pipeline_samples_per_s": median([p["samples_per_s"] for p in pipes]),
        "train.pipeline_train_loop_samples_per_s": median(
            [p["train_loop_samples_per_s"] for p in pipes]
        ),
        "train.pipeline_vs_bare_ratio": median(ratios),
        "train.pipeline_vs_bare_ratios": [round(x, 3) for x in ratios],
        "train.pipeline_epoch_s": epoch_s,
        "train.preview_s": preview_s,
        "train.preview_interval": interval,
        "train.pipeline_with_previews_vs_bare_ratio": median(
            [w / ((bares[i] + bares[i + 1]) / 2) for i, w in enumerate(with_previews)]
        ),
        "train.flops_per_sample": flops,
        "train.achieved_flops_per_s": achieved,
        "train.matmul_flops_per_s": ceiling,
        "train.flops_fraction_of_matmul": achieved / ceiling,
        "train.load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the pipeline")
    args = parser.parse_args()
    results = run(args.rounds, args.epochs, args.steps, args.overrides)
    print_figures(results)


if __name__ == "__main__":
    main()
