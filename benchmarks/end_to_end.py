"""End-to-end efficiency of a whole training run, and the CPU step options, in one session.

    .venv/bin/python benchmarks/end_to_end.py [--options] [--no-run] [overrides ...]

*efficiency*: samples trained / (bare step rate x wall time of the whole ``python -m
rvqvae.train`` process, start-up included). The bare step (forward, backward, clip, AdamW on
in-memory batches, see ``train_step.BareStep``) runs at the run's own batch size and precision
(bf16 autocast when the run resolves to bf16-mixed) just before and just after the run; their
mean is the rate the run is held against. ``fit_efficiency`` leaves out what happens before
``trainer.fit`` (imports, composition, data preparation).

The run is started as a user starts it (progress bar on, output captured). The bare rate before
and after is the median of ``--rounds`` timings each: the machine's own speed drifts by +-10 %
over minutes, so compare figures measured in the same session only.

``--options``: bare-step samples/s of fp32 (default), AdamW ``foreach``, bf16 autocast,
``channels_last`` and ``torch.compile`` of the conv stacks (with its compile seconds and the
samples after which it pays), alternated over rounds so that load drifts hit them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compose_plain, load_average, median, print_figures  # noqa: E402
from train_step import BareStep, datamodule  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def run_training(overrides: list[str], run_dir: Path) -> float:
    """Wall seconds of ``python -m rvqvae.train`` (a fresh process, as a user starts it)."""
    env = {**os.environ, "WANDB_MODE": "disabled"}
    args = [sys.executable, "-m", "rvqvae.train", f"hydra.run.dir={run_dir}", *overrides]
    t = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall


def efficiency(overrides: list[str], steps: int, rounds: int = 3) -> dict[str, Any]:
    """Bare rate, whole run, bare rate again; the run's samples over bare rate x wall."""
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-e2e-"))
    _, plain = compose_plain(overrides, work / "compose")
    batch = int(plain["dataset"]["batch_size"])
    dm = datamodule(plain)
    samples_per_epoch = dm._batcher.num_chunks * dm.augmentation_expansion
    precision = str(plain["trainer"]["precision"])  # the bare step runs as the run does
    bare = BareStep(plain, batch=batch, bf16=precision.startswith("bf16"))
    before = median([bare.run(steps) for _ in range(rounds)])
    print(f"bare step (batch {batch}): {before:.1f} samples/s  [load {load_average()}]", flush=True)
    wall = run_training(overrides, work / "run")
    after = median([bare.run(steps) for _ in range(rounds)])
    summary = json.loads((work / "run" / "summary.json").read_text())
    epochs = int(summary["epochs"])
    samples = samples_per_epoch * epochs
    rate = (before + after) / 2
    fit_s = float(summary["train_seconds"])
    print(
        f"run: {epochs} epochs, {samples} samples in {wall:.1f} s wall ({fit_s:.1f} s in fit); "
        f"bare after {after:.1f} samples/s  [load {load_average()}]",
        flush=True,
    )
    return {
        "e2e.overrides": " ".join(overrides) or "(default run)",
        "e2e.batch_size": batch,
        "e2e.precision": precision,
        "e2e.samples": samples,
        "e2e.wall_s": wall,
        "e2e.fit_s": fit_s,
        "e2e.startup_s": wall - fit_s,
        "e2e.bare_samples_per_s": rate,
        "e2e.bare_before_after": [round(before, 1), round(after, 1)],
        "e2e.efficiency": samples / (rate * wall),
        "e2e.fit_efficiency": samples / (rate * fit_s),
        "e2e.val_norm_l1": summary.get("val/norm_l1"),
        "e2e.load_average": load_average(),
    }


OPTIONS: dict[str, dict[str, Any]] = {
    "fp32": {},
    "foreach": {"foreach": True},
    "bf16": {"bf16": True},
    "channels_last": {"channels_last": True},
    "compile": {"compile_mode": "default"},
}


def step_options(overrides: list[str], steps: int, rounds: int) -> dict[str, Any]:
    """Bare samples/s of each option at the run's batch size, alternated over rounds."""
    work = Path(tempfile.mkdtemp(prefix="rvqvae-bench-opt-"))
    _, plain = compose_plain(overrides, work / "compose")
    batch = int(plain["dataset"]["batch_size"])
    steps_of = {name: BareStep(plain, batch=batch, **kw) for name, kw in OPTIONS.items()}
    rates: dict[str, list[float]] = {name: [] for name in OPTIONS}
    for _ in range(rounds):
        for name, bare in steps_of.items():
            rates[name].append(bare.run(steps))
    out: dict[str, Any] = {"cpu_options.batch_size": batch}
    base = median(rates["fp32"])
    for name, values in rates.items():
        out[f"cpu_options.{name}_samples_per_s"] = median(values)
        out[f"cpu_options.{name}_vs_fp32"] = median(values) / base
    # compilation pays after this many samples (vs fp32 eager, steady rates)
    compiled, eager = out["cpu_options.compile_samples_per_s"], base
    compile_s = steps_of["compile"].warmup_s - steps_of["fp32"].warmup_s
    out["cpu_options.compile_s"] = compile_s
    saved_per_sample = 1 / eager - 1 / compiled
    out["cpu_options.compile_breakeven_samples"] = (
        compile_s / saved_per_sample if saved_per_sample > 0 else None
    )
    out["cpu_options.load_average"] = load_average()
    return out


def run(options: bool = True, steps: int = 24, rounds: int = 3) -> dict[str, Any]:
    """The ``e2e`` section of run_all: the default run's efficiency (and the step options)."""
    results: dict[str, Any] = {}
    if options:
        results.update(step_options([], steps, rounds))
    results.update(efficiency([], steps, rounds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--options", action="store_true", help="also time the CPU step options")
    parser.add_argument("--no-run", action="store_true", help="skip the whole-run efficiency")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the measured run")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.options:
        results.update(step_options(args.overrides, args.steps, args.rounds))
    if not args.no_run:
        results.update(efficiency(args.overrides, args.steps, args.rounds))
    print_figures(results)


if __name__ == "__main__":
    main()
