"""``python -m rvqvae.train [overrides]``: train one RVQ-VAE (or a sweep with ``-m``).

Thin Hydra entry point: composition happens in ``conf/``, the work in
:func:`rvqvae.training.run.train`. Returns the summary value(s) ``optimized_metric`` names
(``conf/train.yaml``) for Hydra sweepers.
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

# conf/hydra/launcher/joblib.yaml repeats the plugin's keys under the plugin's own name (a config
# cannot extend a same-named one); Hydra warns about schema matching on every run otherwise.
warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/joblib' is validated against")

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.train")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Train one model; return ``optimized_metric``'s value(s) (inf for a failed sweep job)."""
    from rvqvae.console import setup_console
    from rvqvae.training.job import objective_from_config, run_entry
    from rvqvae.training.run import train

    setup_console()
    return run_entry(lambda: train(cfg), objective_from_config(cfg), _print_summary, log)


def _print_summary(summary: dict) -> None:
    codebook = ", ".join(
        f"L{k.split('_')[-1]} {v['utilization']:.2f}"
        for k, v in summary.get("codebook", {}).items()
    )
    lines = [
        f"done in {summary.get('train_seconds', 0):.0f} s, {summary.get('epochs')} epochs: "
        f"val/recon_l1 {summary.get('val/recon_l1', math.nan):.4f}, "
        f"val/norm_l1 {summary.get('val/norm_l1') or math.nan:.3f}, "
        f"bitrate {summary.get('bitrate_bps', 0):.0f} bit/s",
        f"codebook utilization per level: {codebook}",
        f"run folder: {summary.get('run_dir')}",
        f"best checkpoint: {summary.get('best_checkpoint')}",
        f"previews: {summary.get('previews')}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    from rvqvae.training.resume import resume_in_place

    sys.argv[1:] = resume_in_place(sys.argv[1:])  # resume=RUN_DIR continues in RUN_DIR
    main()
