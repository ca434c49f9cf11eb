"""Per-kind models against the mixed model on the same files: those that *both* held out.

    .venv/bin/python experiments/realaudio_recipe/cross_eval.py MIXED_RUN KIND_RUN [KIND_RUN ...]

Each run's split is rebuilt from its checkpoint (``rvqvae.prior.grids.rebuild_split``); for each
per-kind run, the files in its validation split that are also in the mixed run's validation
split are evaluated with both models like ``python -m rvqvae.evaluate`` does: the mel L1 with all
levels (comparable across models) and ``norm_l1`` (over each model's own training mean).
Prints one line per kind.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def errors(codec, files: list[Path]) -> tuple[float, float]:
    """(mel L1, norm_l1) with all levels on ``files``."""
    from rvqvae.codec.evaluation import evaluate_codec, load_eval_chunks

    chunks, _, _ = load_eval_chunks(codec, None, None, files=files)
    last = list(evaluate_codec(codec, chunks, max_audio_chunks=0)["levels"].values())[-1]
    return last["mel_l1"], last["norm_l1"]


def main() -> None:
    from rvqvae.codec.model import Codec
    from rvqvae.prior.grids import rebuild_split

    mixed_run, *kind_runs = (Path(a) for a in sys.argv[1:])
    mixed = Codec.from_checkpoint(mixed_run / "checkpoints" / "best.ckpt")
    _, mixed_val, _ = rebuild_split(mixed, None)
    mixed_val_names = {f.resolve() for f in mixed_val}
    for run in kind_runs:
        codec = Codec.from_checkpoint(run / "checkpoints" / "best.ckpt")
        _, val, _ = rebuild_split(codec, None)
        both = sorted(f for f in val if f.resolve() in mixed_val_names)
        kind = val[0].parent.name if val else "?"
        if not both:
            print(f"{kind}: no file held out by both models")
            continue
        (own_l1, own_norm), (mix_l1, mix_norm) = errors(codec, both), errors(mixed, both)
        print(
            f"{kind}: {len(both)} files held out by both; mel L1 per-kind model {own_l1:.3f}, "
            f"mixed {mix_l1:.3f} (norm_l1, over each model's own training mean: {own_norm:.3f}, "
            f"{mix_norm:.3f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
