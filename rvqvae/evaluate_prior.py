"""``python -m rvqvae.evaluate_prior ckpt=PRIOR.ckpt [num_samples=N seconds=S] [output=DIR]``.

Scores a prior on its VQ-VAE run's validation files (bits/s per level, raw and unigram bits/s)
and its samples against them beside reference rows (frame and windowed Fréchet distances,
two-sample test, precision/recall/density/coverage, activity, memorisation); writes
``eval_prior.json``, the codes and code grid views of the first ``grid_views`` samples
(``samples/sample_K.codes.npz``, ``samples/sample_K_grid.png``) and prints a table. The
training run writes the same figures into its ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def run(cfg: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """Evaluate ``cfg['ckpt']``; returns the figures written to ``eval_prior.json``."""
    from rvqvae.atomic import atomic_write_json
    from rvqvae.prior.checkpoint import load_prior
    from rvqvae.prior.data import PriorDataModule
    from rvqvae.prior.evaluation import baseline_bits, evaluate_prior, score_validation
    from rvqvae.prior.metrics import UnigramBaseline
    from rvqvae.prior.sampling import SamplingSettings
    from rvqvae.prior.writer import write_codes

    settings = SamplingSettings(cfg["temperature"], cfg["top_k"], cfg["top_p"])
    num = cfg["num_samples"]
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"num_samples must be an integer >= 1, got {num!r}")
    loaded = load_prior(cfg["ckpt"], device=cfg.get("device") or "cpu")
    prior, codec = loaded.prior, loaded.codec
    data = PriorDataModule(
        codec,
        prior.layout,
        prior.context_columns,
        cache_dir=cfg.get("cache_dir"),
        seed=int(cfg["seed"]),
        kind=cfg.get("kind"),
    )
    data.setup()
    unigram = UnigramBaseline(
        data.train_grids, codec.model.codebook_size, float(cfg["unigram_alpha"])
    )
    figures: dict[str, Any] = {"checkpoint": str(cfg["ckpt"]), "kind": cfg.get("kind")}
    figures.update(score_validation(prior, data))
    figures.update(baseline_bits(data, unigram, codec.model.codebook_size))
    evaluation, samples = evaluate_prior(
        prior,
        codec,
        data.train_grids,
        data.val_grids,
        data.train_mels,
        data.val_mels,
        unigram,
        num,
        float(cfg["seconds"]),
        settings,
        int(cfg["seed"]),
    )
    figures.update(evaluation.to_dict())
    out = Path(cfg.get("output") or run_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "eval_prior.json", figures)
    for k in range(min(int(cfg.get("grid_views", 0) or 0), samples.grids.shape[0])):
        origin = {"checkpoint": str(cfg["ckpt"]), "seed": int(cfg["seed"]), "index": k}
        args = (samples.grids[k], samples.mels[k].numpy(), samples.num_samples)
        write_codes(codec, *args, out / "samples", f"sample_{k}", origin)
    print(format_table(figures))
    print(f"written: {out / 'eval_prior.json'}")
    return figures


SETS = ("prior", "unigram", "reconstruction", "train", "shuffled", "validation")
SET_ROWS = (
    ("frame Fréchet distance", "fd"),
    ("windowed Fréchet distance", "wfd"),
    ("  at infinitely many windows", "wfd_inf"),
    ("two-sample accuracy", "c2st"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("near-silent fraction", "silent_fraction"),
    ("silent run, s", "silent_run_s"),
    ("active run, s", "active_run_s"),
    ("onsets per s", "onsets_per_s"),
    ("loudness spread, dB", "loudness_spread_db"),
)


def format_table(figures: dict[str, Any]) -> str:
    """The figures as aligned tables: bits/s and memorisation, then one column per set of mels
    (prior samples and the reference rows) against the validation files."""
    rows = [("val bits/s", figures["val/bits_per_s"])]
    rows += [(f"  level {k}", v) for k, v in enumerate(figures["val/bits_per_s_per_level"])]
    rows += [
        ("unigram bits/s", figures["unigram_bits_per_s"]),
        ("raw bits/s", figures["raw_bits_per_s"]),
        ("longest copy of training codes, s", figures["longest_copy_s"]),
        ("  validation files, s", figures["longest_copy_s_validation"]),
        ("nearest training window, generated", figures["nn_distance_generated"]),
        ("  validation", figures["nn_distance_validation"]),
        ("sampling, x real time (codes)", figures["sampling_x_real_time"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value:10.3f}" for name, value in rows]
    width = max(len(name) for name, _ in SET_ROWS)
    lines += ["", f"{'vs validation':<{width}}" + "".join(f"{s:>15}" for s in SETS)]
    for name, key in SET_ROWS:
        cells = [figures.get(f"{key}_{s}") for s in SETS]
        text = "".join(f"{c:15.3f}" if isinstance(c, float) else f"{'':>15}" for c in cells)
        lines.append(f"{name:<{width}}{text}")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate_prior")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("evaluate_prior", cfg, lambda plain: run(plain, HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
