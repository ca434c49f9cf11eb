"""GPU sweeps: 9 short jobs one after another (basic launcher) vs several side by side on each
GPU (``hydra/launcher=gpu_shared``). Skips cleanly without CUDA unless ``--cpu``.

    .venv/bin/python benchmarks/gpu_sweep.py [--epochs 3] [--jobs-per-gpu 9] [--cpu]

Serial: ``python -m rvqvae.train -m seed=0,...,8 trainer=gpu`` (one process). Shared: the same
with ``hydra/launcher=gpu_shared gpu_share.jobs_per_gpu=N`` (``conf/hydra/launcher/
gpu_shared.yaml``: N jobs per GPU, job k on GPU k % gpus). Both after a warm-up job that fills
the feature cache, and both include the end-of-sweep report. ``throughput_ratio`` is serial wall
/ shared wall (higher is better; N side by side reach at most N, hence 9 by default: the 3x
target needs more than 3 jobs at once). ``--cpu``: a tiny version on the CPU (2 jobs of 1 short
epoch, 2 side by side) that only proves the script works end to end; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, load_average, print_figures  # noqa: E402
from sweep import sweep_seconds  # noqa: E402

# --cpu: a few batches per epoch, so the check takes seconds
_CPU_LIMITS = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1"]


def run(epochs: int = 3, jobs: int = 9, jobs_per_gpu: int = 9, cpu: bool = False) -> dict:
    import torch

    if cpu:
        trainer, gpus, name = ["trainer.accelerator=cpu", *_CPU_LIMITS], 1, "cpu"
    elif torch.cuda.is_available():
        gpus, name = torch.cuda.device_count(), torch.cuda.get_device_name(0)
        trainer = ["trainer=gpu"]
    else:
        print("gpu_sweep: no CUDA device, skipped (--cpu runs a tiny version on the CPU)")
        return {}
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-gpu-sweep-"))
    cache = Path(os.environ.get("RVQVAE_CACHE_DIR", REPO / ".cache"))
    warm = ["trainer.accelerator=cpu", *_CPU_LIMITS]  # fills the feature cache for both
    sweep_seconds(warm, work / "warm-up", cache, epochs=1, jobs=1)
    serial = sweep_seconds(trainer, work / "serial", cache, epochs, jobs)
    shared_args = ["hydra/launcher=gpu_shared", f"gpu_share.jobs_per_gpu={jobs_per_gpu}"]
    if cpu:
        shared_args.append("gpu_share.gpus=1")
    shared = sweep_seconds([*trainer, *shared_args], work / "shared", cache, epochs, jobs)
    ratio = serial / shared
    print(
        f"{jobs} jobs x {epochs} epochs on {name} ({gpus} x {jobs_per_gpu} side by side): "
        f"serial {serial:.1f} s, shared {shared:.1f} s -> throughput x{ratio:.2f}  "
        f"[load {load_average()}]"
    )
    return {
        "gpu_sweep.device": name,
        "gpu_sweep.gpus": gpus,
        "gpu_sweep.jobs": jobs,
        "gpu_sweep.epochs_per_job": epochs,
        "gpu_sweep.jobs_per_gpu": jobs_per_gpu,
        "gpu_sweep.serial_wall_s": serial,
        "gpu_sweep.shared_wall_s": shared,
        "gpu_sweep.throughput_ratio": ratio,
        "gpu_sweep.load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=None, help="per job (3; --cpu: 1)")
    parser.add_argument("--jobs", type=int, default=None, help="sweep size (9; --cpu: 2)")
    parser.add_argument("--jobs-per-gpu", type=int, default=None, help="(9 = all; --cpu: 2)")
    parser.add_argument("--cpu", action="store_true", help="tiny CPU version (a smoke test)")
    args = parser.parse_args()
    small = args.cpu
    results = run(
        epochs=args.epochs or (1 if small else 3),
        jobs=args.jobs or (2 if small else 9),
        jobs_per_gpu=args.jobs_per_gpu or (2 if small else 9),
        cpu=small,
    )
    print_figures(results)


if __name__ == "__main__":
    main()
