"""What the prior's time-aware metrics say about a codec run's reconstructions: each run's
validation files through its best checkpoint (the whole file's code grid, decoded), against the
files themselves, with the same figures ``evaluate_prior`` gives its ``reconstruction`` row
(``rvqvae.prior.temporal.set_figures``: windowed FD and its bias-free value, the two-sample
classifier, density/coverage, onsets and activity). The decoder's blur is what separates prior
samples from real windows too, so a codec option that helps here helps every prior sample.

    .venv/bin/python experiments/quality_per_bit/windowed.py RUN_DIR [RUN_DIR ...] [--out FILE]

Prints a markdown table and writes the figures as JSON (default ``windowed.json`` beside this
file, keyed by run folder name). Windows, PCA and silence threshold are fitted on each run's own
training files, as ``evaluate_prior`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

KEYS = ("wfd", "wfd_inf", "c2st", "coverage", "onsets_per_s", "silent_fraction")


def run_figures(run: Path) -> dict[str, float]:
    """The reconstruction row's figures for one run (and validation's own activity)."""
    from rvqvae.codec.grid import decode_grid
    from rvqvae.codec.model import Codec
    from rvqvae.prior.grids import CodeCache, rebuild_split
    from rvqvae.prior.temporal import set_figures

    codec = Codec.from_checkpoint(run / "checkpoints" / "best.ckpt")
    train, val, _ = rebuild_split(codec, None)
    cache = CodeCache(None, codec)
    train_mels = [cache.mel(f) for f in train]
    val_mels = [cache.mel(f) for f in val]
    recon = [
        decode_grid(codec.model, cache.grid(f), m.shape[1], codec.settings.n_mels)
        for f, m in zip(val, val_mels)
    ]
    s = codec.settings
    figures = set_figures(train_mels, val_mels, {"recon": recon}, s.hop_length / s.sample_rate)
    out = {key: float(figures[f"{key}_recon"]) for key in KEYS if f"{key}_recon" in figures}
    out["onsets_per_s_validation"] = float(figures["onsets_per_s_validation"])
    out["val_files"] = len(val)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("windowed.json"))
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for run in args.runs:
        results[run.name] = run_figures(run)
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print("| run | " + " | ".join(KEYS) + " | validation onsets/s |")
    print("|---" * (len(KEYS) + 2) + "|")
    for name, row in sorted(results.items()):
        cells = [f"{row[k]:.3f}" if k in row else "-" for k in KEYS]
        print(f"| {name} | " + " | ".join(cells) + f" | {row['onsets_per_s_validation']:.2f} |")


if __name__ == "__main__":
    main()
