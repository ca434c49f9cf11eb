"""Collect the quantizer-options study (``run.sh``): per run, the end-of-training figures from
``summary.json`` and ViSQOL / LSD / norm_l1 on 16 of the run's own validation files
(``benchmarks/realaudio_eval.py``'s per-folder evaluation: first 4 s of each, Griffin-Lim for
the reconstruction and for the analysis mel alike); per option, the mean and spread over seeds.

    .venv/bin/python experiments/quality_per_bit/collect.py [--visqol 16]

Writes ``results_seeds.json`` beside this file and prints a markdown table. A run's evaluation
is kept in ``RUN/qpb_eval.json``, so a rerun only evaluates new runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from realaudio_eval import kind_figures  # noqa: E402

OPTIONS = {
    "base": "defaults (Euclidean codebooks, rotation trick)",
    "cos": "model.use_cosine_sim=true",
    "norot": "model.rotation_trick=false",
    "proj16": "model.codebook_projection_dim=16",
    "multires": "module.recon_loss=multires_l1",
    "l1lin": "module.recon_loss=l1_linear",
    "res1": "model.residual_blocks=1",
    "multiresref": "module.recon_loss=multires_l1, rerun beside adv (its reference)",
    "adv": "module.adversarial.enabled=true (with multires_l1)",
    "adv03": "module.adversarial.enabled=true weight=0.03 (with multires_l1)",
    "mres1": "model.residual_blocks=1 with multires_l1",
}
# each option against the same seed of: base (l1, the study's first default), or
# the default loss the option was added to, retrained beside it: machines differ in float
# rounding, and a 60-epoch run with them (multires seeds 2 and 3 moved by -0.02 ViSQOL)
REFERENCE = {"adv": "multiresref", "adv03": "multiresref", "mres1": "multiresref"}


def run_figures(run: Path, visqol_files: int) -> dict:
    """Summary figures plus the 16-file evaluation of one finished run (cached in the run)."""
    summary = json.loads((run / "summary.json").read_text())
    cached = run / "qpb_eval.json"
    if not cached.exists():
        figures = kind_figures(run, None, visqol_files)
        cached.write_text(json.dumps(figures, indent=1) + "\n")
    (kind,) = json.loads(cached.read_text())["kinds"].values()
    return {
        "seed": summary["seed"],
        "val/norm_l1": summary["val/norm_l1"],
        "best/val/norm_l1": summary["best/val/norm_l1"],
        "val/visqol_4files": summary["val/visqol"],
        "visqol": kind["sound"]["visqol"],
        "visqol_ceiling": kind["sound"]["visqol_ceiling"],
        "lsd": kind["sound"]["lsd"],
        "lsd_ceiling": kind["sound"]["lsd_ceiling"],
        "eval_files": kind["sound"]["files"],
        "eval_norm_l1": kind["norm_l1_levels"][-1],
        "utilization": kind["utilization"],
        "bitrate_bps": summary["bitrate_bps"],
        "train_seconds": summary["train_seconds"],
        "perceptual_eval_seconds": summary["perceptual"]["eval_seconds"],
        "wall_seconds": summary["wall_seconds"],
    }


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visqol", type=int, default=16, help="validation files for ViSQOL")
    args = ap.parse_args()
    out = Path(__file__).with_name("results_seeds.json")
    recorded = json.loads(out.read_text()) if out.exists() else {}
    results: dict[str, dict] = {}
    for name, option in OPTIONS.items():
        # a symlink is another option's run under this name (a reference kept for old paths)
        runs = [
            r
            for r in sorted((REPO / "outputs" / "runs").glob(f"qpb2_{name}_s*"))
            if not r.is_symlink()
        ]
        finished = [r for r in runs if (r / "summary.json").exists()]
        finished = [
            r
            for r in finished
            if json.loads((r / "summary.json").read_text())["status"] == "completed"
        ]
        found = {f["seed"]: f for f in (run_figures(r, args.visqol) for r in finished)}
        # runs whose folders are gone keep their recorded figures (training is deterministic
        # on one machine: a rerun of multires seed 1 matched its record to the last digit)
        kept = {r["seed"]: r for r in recorded.get(name, {}).get("runs", [])}
        merged = {**kept, **found}
        runs = [merged[seed] for seed in sorted(merged)]
        results[name] = {"option": option, "runs": runs}
    print(
        "| option | seeds | ViSQOL (16 files) | ViSQOL - reference, same seed | val/norm_l1 "
        "| LSD | "
        "bit/s | util L0/L1/L2 | train s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, entry in results.items():
        runs = entry["runs"]
        if not runs:
            continue
        util = [statistics.mean(r["utilization"][i] for r in runs) for i in range(3)]
        # the seed also draws the validation split: compare with the reference of the same seed
        base = {r["seed"]: r for r in results[REFERENCE.get(name, "base")]["runs"]}
        paired = [r["visqol"] - base[r["seed"]]["visqol"] for r in runs if r["seed"] in base]
        entry["visqol_minus_default_same_seed"] = paired
        print(
            f"| {entry['option']} | {len(runs)} | {mean_sd([r['visqol'] for r in runs])} | "
            f"{mean_sd(paired) if paired else '-'} | {mean_sd([r['val/norm_l1'] for r in runs])} | "
            f"{mean_sd([r['lsd'] for r in runs])} | {runs[0]['bitrate_bps']:.0f} | "
            f"{' / '.join(f'{u:.2f}' for u in util)} | "
            f"{statistics.mean(r['train_seconds'] for r in runs):.0f} |"
        )
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
