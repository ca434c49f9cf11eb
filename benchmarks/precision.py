"""bf16 autocast vs fp32 for whole default runs: wall time and ``val/norm_l1`` over seeds.

    .venv/bin/python benchmarks/precision.py [--seeds 0,1,2] [--work DIR] [overrides ...]

Each (seed, precision) is one ``python -m rvqvae.train seed=S trainer.precision=P`` into
``DIR/s<seed>_<precision>``; a run whose summary.json is there already is not run again, so an
interrupted study continues where it stopped. The adoption rule of issue 13: bf16 becomes the
CPU default only if it is faster and its mean ``val/norm_l1`` is within 1 % of fp32's.
Runs are serial (they would compete for the cores); compare their wall times within one study.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, machine_info, print_figures  # noqa: E402
from end_to_end import run_training  # noqa: E402

PRECISIONS = ("32-true", "bf16-mixed")


def study(seeds: list[int], work: Path, overrides: list[str]) -> dict[str, Any]:
    """Runs what is missing, then the per-precision means and the bf16/fp32 ratios."""
    per: dict[str, list[tuple[float, float]]] = {p: [] for p in PRECISIONS}
    for seed in seeds:
        for precision in PRECISIONS:
            run_dir = work / f"s{seed}_{precision}"
            summary_path = run_dir / "summary.json"
            if not summary_path.is_file():
                args = [f"seed={seed}", f"trainer.precision={precision}", *overrides]
                wall = run_training(args, run_dir)
                (run_dir / "wall_s.txt").write_text(f"{wall:.2f}\n")
            summary = json.loads(summary_path.read_text())
            wall_file = run_dir / "wall_s.txt"
            wall = float(wall_file.read_text()) if wall_file.is_file() else float("nan")
            per[precision].append((float(summary["val/norm_l1"]), wall))
            value = summary["val/norm_l1"]
            print(f"seed {seed} {precision}: val/norm_l1 {value:.4f}, {wall:.0f} s")
    out: dict[str, Any] = {"precision.seeds": seeds}
    for precision, rows in per.items():
        tag = "fp32" if precision == "32-true" else "bf16"
        out[f"precision.{tag}_val_norm_l1"] = [round(v, 4) for v, _ in rows]
        out[f"precision.{tag}_val_norm_l1_mean"] = sum(v for v, _ in rows) / len(rows)
        out[f"precision.{tag}_wall_s"] = [round(w, 1) for _, w in rows]
    fp32, bf16 = out["precision.fp32_val_norm_l1_mean"], out["precision.bf16_val_norm_l1_mean"]
    out["precision.bf16_vs_fp32_val_norm_l1"] = bf16 / fp32
    # wall ratios of the seeds whose two runs both have a wall time (a run disturbed by other
    # load can have its wall_s.txt removed: its quality still counts, its speed does not)
    pairs = zip(per["32-true"], per["bf16-mixed"])
    speed = [w32 / w16 for (_, w32), (_, w16) in pairs if math.isfinite(w32 / w16)]
    out["precision.bf16_speedup_wall"] = sum(speed) / len(speed) if speed else None
    out["precision.bf16_speedup_seeds"] = len(speed)
    out["precision.bf16_adoptable"] = bool(bf16 / fp32 <= 1.01 and speed and min(speed) > 1.0)
    out["precision.load_average"] = load_average()
    return out


def run(seeds: tuple[int, ...] = (0, 1, 2), work: Path | None = None) -> dict[str, Any]:
    """The ``precision`` section of run_all (in a fresh folder unless ``work`` is given)."""
    work = work or Path(tempfile.mkdtemp(prefix="rvqvae-bench-precision-"))
    return study(list(seeds), work, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures (JSON)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rvqvae-bench-precision-"))
    seeds = [int(s) for s in args.seeds.split(",") if s]
    results = study(seeds, work, args.overrides)
    print_figures(results)
    if args.out:
        args.out.write_text(json.dumps({**machine_info(), **results}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
