"""GPU: bf16 training throughput at batch 32-512, FLOP/s fraction of a bf16 matmul, and the
full pipeline vs the bare step at batch 32. Skips cleanly without CUDA.

    python benchmarks/gpu.py [--steps 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compose_plain, load_average, median, print_figures  # noqa: E402


def matmul_bf16_flops_per_s(n: int = 8192, reps: int = 10) -> float:
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t)


def run(steps: int = 30, batches: tuple[int, ...] = (32, 64, 128, 256, 512)) -> dict:
    import tempfile

    import torch

    if not torch.cuda.is_available():
        print("gpu: no CUDA device, skipped")
        return {}
    from train_step import BareStep, datamodule, flops_per_sample, pipeline_run

    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-gpu-"))
    overrides = ["trainer.max_epochs=6", "trainer.accelerator=gpu", "trainer.precision=bf16-mixed"]
    _, plain = compose_plain(overrides, work / "compose")
    flops = flops_per_sample(plain)
    ceiling = matmul_bf16_flops_per_s()
    out: dict = {
        "gpu.name": torch.cuda.get_device_name(0),
        "gpu.matmul_bf16_flops_per_s": ceiling,
    }
    for b in batches:
        bare = BareStep(plain, device="cuda", bf16=True, batch=b)
        sps = median([bare.run(steps) for _ in range(3)])
        out[f"gpu.bare_bf16_samples_per_s.b{b}"] = sps
        out[f"gpu.flops_fraction_of_matmul.b{b}"] = flops * sps / ceiling
        print(f"gpu batch {b}: {sps:.0f} samples/s, {flops * sps / ceiling:.4f} of bf16 matmul")
    dm = datamodule(plain)
    samples_per_epoch = dm._batcher.num_chunks * dm.augmentation_expansion
    bare = BareStep(plain, device="cuda", bf16=True, batch=32)
    before = bare.run(steps)
    pipe = pipeline_run(overrides, work, "gpu-pipeline", samples_per_epoch)
    after = bare.run(steps)
    out["gpu.pipeline_samples_per_s"] = pipe["samples_per_s"]
    out["gpu.pipeline_train_loop_samples_per_s"] = pipe["train_loop_samples_per_s"]
    out["gpu.pipeline_vs_bare_ratio"] = pipe["samples_per_s"] / ((before + after) / 2)
    out["gpu.load_average"] = load_average()
    print(
        f"gpu pipeline {pipe['samples_per_s']:.0f} samples/s vs bare {before:.0f}/{after:.0f} "
        f"-> {out['gpu.pipeline_vs_bare_ratio']:.3f}"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    print_figures(run(parser.parse_args().steps))


if __name__ == "__main__":
    main()
