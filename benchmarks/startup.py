"""Start-up: launch of ``python -m rvqvae.train`` to the end of the first training step.

    .venv/bin/python benchmarks/startup.py [--repeats 2]

The job runs through a thin wrapper (``runpy`` of ``rvqvae.train``, same argv) that prints a
timestamp when the first optimizer step has finished and then exits, so the figure is launch
-> first step, not the whole run. *cold*: empty feature cache (synth generation + decoding);
*warm*: the same cache again. Also the wall time of ``--help`` and ``--cfg job``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, load_average, median, print_figures  # noqa: E402

MARK = "RVQVAE_BENCH_FIRST_STEP"
WRAPPER = f"""
import os, runpy, sys, time
from rvqvae.training.module import RVQVAEModule

def _first_step(self, *args, **kwargs):
    print("{MARK}", repr(time.time()), flush=True)
    os._exit(0)

RVQVAEModule.on_train_batch_end = _first_step
sys.argv[0] = "rvqvae.train"
runpy.run_module("rvqvae.train", run_name="__main__", alter_sys=True)
"""


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "RVQVAE_CACHE_DIR": str(cache), "WANDB_MODE": "disabled"}


def first_step_seconds(cache: Path, out: Path, extra: list[str] | None = None) -> float:
    """Seconds from process launch to the end of the first training step."""
    args = [
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={out}",
        *(extra or []),
    ]
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        cwd=REPO,
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no first step (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def command_seconds(args: list[str], cache: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rvqvae.train", *args],
        cwd=REPO,
        env=_env(cache),
        capture_output=True,
        check=True,
        timeout=300,
    )
    return time.perf_counter() - t0


def run(repeats: int = 2) -> dict:
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-startup-"))
    cache = work / "cache"
    cold = first_step_seconds(cache, work / "cold")
    warm = [first_step_seconds(cache, work / f"warm{i}") for i in range(repeats)]
    help_s = [command_seconds(["--help"], cache) for _ in range(repeats)]
    cfg_s = [command_seconds(["--cfg", "job"], cache) for _ in range(repeats)]
    results = {
        "startup.first_step_cold_s": cold,
        "startup.first_step_s": median(warm),
        "startup.help_s": median(help_s),
        "startup.cfg_job_s": median(cfg_s),
        "startup.load_average": load_average(),
    }
    print(
        f"first step: cold {cold:.2f} s, warm {', '.join(f'{x:.2f}' for x in warm)} s; "
        f"--help {median(help_s):.2f} s, --cfg job {median(cfg_s):.2f} s  [load {load_average()}]"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print_figures(run(args.repeats))


if __name__ == "__main__":
    main()
