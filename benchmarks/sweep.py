"""Sweeps: 4 short jobs serially (basic launcher) vs 2 at a time (joblib launcher).

    .venv/bin/python benchmarks/sweep.py [--epochs 3]

Serial: ``python -m rvqvae.train -m seed=0,1,2,3`` (one process, torch's default threads).
Parallel: the same with ``hydra/launcher=joblib`` (``conf/hydra/launcher/joblib.yaml``,
``n_jobs=2``) and ``num_threads=1`` per job so 2 jobs do not oversubscribe 2 cores. Both use a
warm feature cache and include the end-of-sweep report.
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

from common import REPO, load_average, print_figures  # noqa: E402


def sweep_seconds(extra: list[str], out: Path, cache: Path, epochs: int, jobs: int = 4) -> float:
    args = [
        "-m",
        f"seed={','.join(str(i) for i in range(jobs))}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={out}",
        *extra,
    ]
    env = {**os.environ, "RVQVAE_CACHE_DIR": str(cache), "WANDB_MODE": "disabled"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rvqvae.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.perf_counter() - t0
    done = len(list(out.glob("*/summary.json")))
    if proc.returncode != 0 or done != jobs:
        raise RuntimeError(f"sweep failed (rc {proc.returncode}, {done} summaries):\n{proc.stderr}")
    return wall


def run(epochs: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-sweep-"))
    cache = Path(os.environ.get("RVQVAE_CACHE_DIR", REPO / ".cache"))
    serial = sweep_seconds([], work / "serial", cache, epochs)
    parallel = sweep_seconds(
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "num_threads=1"],
        work / "joblib",
        cache,
        epochs,
    )
    print(
        f"4 jobs x {epochs} epochs: serial {serial:.1f} s, joblib (2 x 1 thread) "
        f"{parallel:.1f} s -> ratio {parallel / serial:.3f}  [load {load_average()}]"
    )
    return {
        "sweep.jobs": 4,
        "sweep.epochs_per_job": epochs,
        "sweep.serial_wall_s": serial,
        "sweep.joblib_wall_s": parallel,
        "sweep.joblib_vs_serial_wall_ratio": parallel / serial,
        "sweep.load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    print_figures(run(parser.parse_args().epochs))


if __name__ == "__main__":
    main()
