"""``python -m rvqvae.train_prior vqvae=RUN_DIR_OR_CKPT [overrides]``: a prior over RVQ codes.

Thin Hydra entry point (``conf/train_prior.yaml``); the work is in
:func:`rvqvae.prior.run.train_prior`. Returns ``val/bits_per_s`` for Hydra sweepers.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.train_prior")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train_prior")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Train one prior; return ``optimized_metric``'s value(s), by default ``val/bits_per_s``
    (inf for a failed sweep job)."""
    from rvqvae.console import setup_console
    from rvqvae.prior.run import train_prior
    from rvqvae.training.job import objective_from_config, run_entry

    setup_console()
    objective = objective_from_config(cfg)
    return run_entry(lambda: train_prior(cfg), objective, _print_summary, log)


def _print_summary(summary: dict) -> None:
    def num(key: str, fmt: str = ".1f") -> str:
        value = summary.get(key)
        return format(value, fmt) if isinstance(value, int | float) else "n/a"

    per_level = ", ".join(
        f"L{k} {v:.1f}" for k, v in enumerate(summary.get("val/bits_per_s_per_level") or [])
    )
    lines = [
        f"done in {summary.get('train_seconds', math.nan):.0f} s, {summary.get('epochs')} epochs "
        f"(best {summary.get('best_epoch')}): val {num('val/bits_per_s')} bit/s ({per_level}), "
        f"unigram {num('unigram_bits_per_s')}, raw {num('raw_bits_per_s')} bit/s",
        f"Fréchet distance: prior {num('fd_prior', '.2f')}, unigram {num('fd_unigram', '.2f')}, "
        f"reconstruction {num('fd_reconstruction', '.2f')}; longest copy of training codes "
        f"{num('longest_copy_s', '.2f')} s",
        f"1 s windows vs validation: Fréchet distance prior {num('wfd_prior', '.1f')}, unigram "
        f"{num('wfd_unigram', '.1f')}, training files {num('wfd_train', '.1f')} (at infinitely "
        f"many windows: prior {num('wfd_inf_prior', '.1f')}, training files "
        f"{num('wfd_inf_train', '.1f')}); two-sample "
        f"accuracy prior {num('c2st_prior', '.3f')}, unigram {num('c2st_unigram', '.3f')}, "
        f"training files {num('c2st_train', '.3f')}; near-silent frames prior "
        f"{num('silent_fraction_prior', '.3f')}, validation "
        f"{num('silent_fraction_validation', '.3f')}",
        f"run folder: {summary.get('run_dir')}",
        f"best checkpoint: {summary.get('best_checkpoint')}",
        f"previews: {summary.get('previews')}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
