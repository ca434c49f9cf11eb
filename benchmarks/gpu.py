"""GPU: the bare bf16 step at batch 32-512 (fraction of a bf16 matmul), the step compiled
(``torch.compile`` default and ``reduce-overhead`` = CUDA graphs, with compile seconds), the
full pipeline vs the bare step at batch 32 and at the default batch (data held and augmented on
the GPU, ``dataset.augment_on=auto``), and the default run's wall time and ``val/norm_l1`` on one
GPU. Skips cleanly without CUDA.

    python benchmarks/gpu.py [--steps 30] [--cpu-reference 0.247] [--no-default-run]
    python benchmarks/gpu.py --device cpu --quick     # exercises every path on CPU (minutes)

``--cpu-reference``: the default run's ``val/norm_l1`` on the CPU (default: ``e2e.val_norm_l1``
of ``benchmarks/results_e2e.json``), the figure the GPU run must stay within 2 % of.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, compose_plain, load_average, median, print_figures  # noqa: E402

COMPILE_MODES = ("default", "reduce-overhead")
E2E_RESULTS = REPO / "benchmarks" / "results_e2e.json"


def matmul_bf16_flops_per_s(device: str, n: int = 8192, reps: int = 10) -> float:
    import torch

    from rvqvae.timing import synchronize

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize(torch.device(device))
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    synchronize(torch.device(device))
    return 2 * n**3 * reps / (time.perf_counter() - t)


def bare_rates(
    plain: dict, device: str, steps: int, batches: tuple[int, ...], ceiling: float, flops: float
) -> dict[str, Any]:
    """Eager bf16 bare step at each batch, then compiled at the smallest batch."""
    from train_step import BareStep

    out: dict[str, Any] = {}
    for b in batches:
        bare = BareStep(plain, device=device, bf16=True, batch=b)
        sps = median([bare.run(steps) for _ in range(3)])
        out[f"gpu.bare_bf16_samples_per_s.b{b}"] = sps
        out[f"gpu.flops_fraction_of_matmul.b{b}"] = flops * sps / ceiling
        print(f"batch {b}: {sps:.0f} samples/s, {flops * sps / ceiling:.4f} of bf16 matmul")
    small = batches[0]
    eager = out[f"gpu.bare_bf16_samples_per_s.b{small}"]
    for mode in COMPILE_MODES:
        tag = mode.replace("-", "_")
        try:
            bare = BareStep(plain, device=device, bf16=True, batch=small, compile_mode=mode)
            sps = median([bare.run(steps) for _ in range(3)])
        except Exception as error:  # noqa: BLE001  (a mode that fails is a figure too)
            print(f"compile {mode}: failed: {str(error).splitlines()[0][:200]}")
            out[f"gpu.compiled_{tag}_error"] = str(error).splitlines()[0][:200]
            continue
        out[f"gpu.compiled_{tag}_samples_per_s.b{small}"] = sps
        out[f"gpu.compiled_{tag}_vs_eager.b{small}"] = sps / eager
        out[f"gpu.compiled_{tag}_compile_s"] = bare.warmup_s
        out[f"gpu.compiled_{tag}_flops_fraction.b{small}"] = flops * sps / ceiling
        print(
            f"compile {mode}: {sps:.0f} samples/s ({sps / eager:.2f}x eager), "
            f"{bare.warmup_s:.0f} s to compile"
        )
    return out


def pipeline_vs_bare(device: str, steps: int, batch: int, epochs: int, accelerator: str) -> dict:
    """In-process pipeline (whole epochs) at ``batch`` against the bare step around it."""
    import tempfile

    from train_step import BareStep, datamodule, pipeline_run

    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-gpu-"))
    overrides = [
        f"trainer.max_epochs={epochs}",
        f"trainer.accelerator={accelerator}",
        "trainer.precision=bf16-mixed",
        f"dataset.batch_size={batch}",
        "trainer.enable_progress_bar=false",
    ]
    _, plain = compose_plain(overrides, work / "compose")
    dm = datamodule(plain)
    samples_per_epoch = dm._batcher.num_chunks * dm.augmentation_expansion
    bare = BareStep(plain, device=device, bf16=True, batch=batch)
    before = median([bare.run(steps) for _ in range(3)])
    pipe = pipeline_run(overrides, work, f"pipeline-b{batch}", samples_per_epoch)
    after = median([bare.run(steps) for _ in range(3)])
    ratio = pipe["samples_per_s"] / ((before + after) / 2)
    print(
        f"pipeline batch {batch}: {pipe['samples_per_s']:.0f} samples/s vs bare "
        f"{before:.0f}/{after:.0f} -> {ratio:.3f}"
    )
    return {
        f"gpu.pipeline_samples_per_s.b{batch}": pipe["samples_per_s"],
        f"gpu.pipeline_train_loop_samples_per_s.b{batch}": pipe["train_loop_samples_per_s"],
        f"gpu.pipeline_bare_samples_per_s.b{batch}": (before + after) / 2,
        f"gpu.pipeline_vs_bare_ratio.b{batch}": ratio,
    }


def default_run(accelerator: str, cpu_reference: float | None, extra: list[str]) -> dict:
    """``python -m rvqvae.train trainer=gpu`` (the default run on one device): wall, val."""
    import tempfile

    from end_to_end import run_training

    run_dir = Path(tempfile.mkdtemp(prefix="rvqvae-bench-gpu-run-")) / "run"
    trainer = ["trainer=gpu"] if accelerator == "gpu" else ["trainer.accelerator=cpu"]
    wall = run_training([*trainer, *extra], run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    out = {"gpu.default_run_wall_s": wall, "gpu.default_run_val_norm_l1": summary["val/norm_l1"]}
    if cpu_reference:
        out["gpu.default_run_val_vs_cpu"] = summary["val/norm_l1"] / cpu_reference
    print(f"default run: {wall:.1f} s wall, val/norm_l1 {summary['val/norm_l1']:.4f}")
    return out


def run(
    steps: int = 30,
    batches: tuple[int, ...] = (32, 64, 128, 256, 512),
    device: str = "cuda",
    cpu_reference: float | None = None,
    default_run_too: bool = True,
    epochs: int = 6,
    default_run_extra: list[str] | None = None,
) -> dict:
    import tempfile

    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print("gpu: no CUDA device, skipped")
        return {}
    from train_step import flops_per_sample

    accelerator = "gpu" if device == "cuda" else "cpu"
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-gpu-"))
    _, plain = compose_plain([f"trainer.accelerator={accelerator}"], work / "compose")
    flops = flops_per_sample(plain)
    ceiling = matmul_bf16_flops_per_s(device, n=8192 if device == "cuda" else 1024)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (smoke run)"
    out: dict[str, Any] = {"gpu.name": name, "gpu.matmul_bf16_flops_per_s": ceiling}
    out.update(bare_rates(plain, device, steps, batches, ceiling, flops))
    default_batch = int(plain["dataset"]["batch_size"])
    for batch in sorted({batches[0], default_batch}):
        out.update(pipeline_vs_bare(device, steps, batch, epochs, accelerator))
    if default_run_too:
        if cpu_reference is None and E2E_RESULTS.is_file():  # the CPU default run's figure
            cpu_reference = json.loads(E2E_RESULTS.read_text()).get("e2e.val_norm_l1")
        out.update(default_run(accelerator, cpu_reference, default_run_extra or []))
    out["gpu.load_average"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--cpu-reference", type=float, default=None)
    parser.add_argument("--no-default-run", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    args = parser.parse_args()
    quick = dict(steps=3, batches=(32,), epochs=2, default_run_extra=["trainer.max_epochs=1"])
    kwargs: dict[str, Any] = quick if args.quick else {"steps": args.steps}
    print_figures(
        run(
            device=args.device,
            cpu_reference=args.cpu_reference,
            default_run_too=not args.no_default_run,
            **kwargs,
        )
    )


if __name__ == "__main__":
    main()
