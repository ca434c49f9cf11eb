"""Per-kind figures of runs trained on the real-audio dev set (``benchmarks/realaudio.py``).

    .venv/bin/python benchmarks/realaudio_eval.py RUN_DIR [RUN_DIR ...] [--out FILE.json]

For each run folder (``python -m rvqvae.train dataset=folder dataset.path=<dev set>``): the
run's own train/validation split is rebuilt from its checkpoint's config, its *validation*
files are grouped by kind (the clip's folder: music, speech, effects), and each group is
evaluated like ``python -m rvqvae.evaluate`` does (non-overlapping 1 s chunks, no
augmentation): ``norm_l1`` (over the run's training mean, as ``val/norm_l1``) with 1..N levels,
whether each level count was trained for (quantizer dropout), and codebook utilisation per level.
With ``--visqol N`` each kind also gets what it sounds like, as every training run's end
(``rvqvae/training/perceptual_eval.py``) measures it on mixed files: on the first N validation
files of the kind (first 4 s), ViSQOL of the reconstruction against the same synthesis of the
analysis mel (``--synth``: Griffin-Lim by default, so runs with and without a vocoder compare),
the ViSQOL ceiling and multi-resolution LSD (``rvqvae.vocoder.perceptual.perceptual_scores``).
Prints one markdown table per run and writes the figures to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def kind_sound(codec: Any, files: list[Path], max_files: int, synth: str) -> dict[str, float]:
    """ViSQOL, its ceiling and LSD of ``codec``'s reconstructions of the first ``max_files``."""
    from rvqvae.training.perceptual_eval import model_reconstruction
    from rvqvae.vocoder.perceptual import load_clips, perceptual_scores
    from rvqvae.vocoder.synthesize import build_synthesizer

    s = codec.settings
    audios = load_clips(files, s, codec.normalize_peak, max_files, 4.0)
    synthesizer = build_synthesizer(synth, s, codec.path)
    result = perceptual_scores(audios, s, model_reconstruction(codec.model), synthesizer)
    keys = ("visqol", "visqol_ceiling", "lsd", "lsd_ceiling", "files")
    return {k: result[k] for k in keys}


def kind_figures(
    run_dir: Path, cache_dir: str | None = None, visqol_files: int = 0, synth: str = "griffinlim"
) -> dict[str, Any]:
    """``{"run", "quantize_dropout", "kinds": {kind: {files, chunks, norm_l1_levels, ...}}}``."""
    from rvqvae.codec.evaluation import evaluate_codec, load_eval_chunks
    from rvqvae.codec.model import Codec
    from rvqvae.prior.grids import rebuild_split

    codec = Codec.from_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    _, val_files, _ = rebuild_split(codec, cache_dir)
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for f in val_files:
        by_kind[f.parent.name].append(f)
    kinds: dict[str, Any] = {}
    for kind in sorted(by_kind):
        chunks, _, _ = load_eval_chunks(codec, None, cache_dir, files=by_kind[kind])
        result = evaluate_codec(codec, chunks, max_audio_chunks=0)
        kinds[kind] = {
            "files": len(by_kind[kind]),
            "chunks": result["num_chunks"],
            "norm_l1_levels": [v["norm_l1"] for v in result["levels"].values()],
            "trained_levels": [v["trained"] for v in result["levels"].values()],
            "utilization": [v["utilization"] for v in result["codebook"].values()],
        }
        if visqol_files:
            kinds[kind]["sound"] = kind_sound(codec, by_kind[kind], visqol_files, synth)
    return {
        "run": str(run_dir),
        "quantize_dropout": codec.model.quantize_dropout,
        "codebook_size": codec.model.codebook_size,
        "num_quantizers": codec.model.num_quantizers,
        "kinds": kinds,
    }


def markdown(figures: dict[str, Any]) -> str:
    """One table: a row per kind, norm_l1 with 1..N levels and utilisation per level."""
    q = figures["num_quantizers"]
    head = ["kind", "files", "chunks"]
    head += [f"norm_l1 {k} lvl" for k in range(1, q + 1)]
    head += [f"util L{k}" for k in range(q)]
    if any("sound" in v for v in figures["kinds"].values()):
        head.append("sounds like")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, v in figures["kinds"].items():
        pairs = zip(v["norm_l1_levels"], v["trained_levels"])
        levels = [f"{x:.3f}" + ("" if ok else "*") for x, ok in pairs]
        row = [kind, str(v["files"]), str(v["chunks"]), *levels]
        row += [f"{u:.2f}" for u in v["utilization"]]
        if "sound" in v:
            snd = v["sound"]
            row.append(
                f"ViSQOL {snd['visqol']:.2f} (ceiling {snd['visqol_ceiling']:.2f}), "
                f"LSD {snd['lsd']:.2f} (ceiling {snd['lsd_ceiling']:.2f}), {snd['files']} files"
            )
        lines.append("| " + " | ".join(row) + " |")
    note = "* = that many levels were never decoded in training (no quantizer dropout)"
    return "\n".join([*lines, "", note])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--cache", default=None, help="mel cache folder (default: the project's)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--visqol", type=int, default=0, help="files per kind for ViSQOL (0: none)")
    ap.add_argument("--synth", default="griffinlim", help="griffinlim | auto | a vocoder .ckpt")
    args = ap.parse_args(argv)
    results = []
    for run in args.runs:
        figures = kind_figures(run, args.cache, args.visqol, args.synth)
        results.append(figures)
        print(f"\n{run} (quantize_dropout={figures['quantize_dropout']})\n{markdown(figures)}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
