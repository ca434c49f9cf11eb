"""``python -m rvqvae.train_vocoder vqvae=RUN_DIR_OR_CKPT [overrides]``: a neural vocoder for
one RVQ-VAE run.

Thin Hydra entry point (``conf/train_vocoder.yaml``); the work is in
:func:`rvqvae.vocoder_training.run.train_vocoder`. Returns ``val/loss`` for Hydra sweepers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)
from rvqvae.vocoder_training.presets import register_vocoder_presets

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
register_vocoder_presets()  # the vocoder/ group (conf/vocoder_presets/): this app's alone
log = logging.getLogger("rvqvae.train_vocoder")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train_vocoder")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Train one vocoder; return ``optimized_metric``'s value(s) (inf for a failed sweep job)."""
    from rvqvae.console import setup_console
    from rvqvae.training.job import objective_from_config, run_entry
    from rvqvae.vocoder_training.run import train_vocoder

    setup_console()
    objective = objective_from_config(cfg)
    return run_entry(lambda: train_vocoder(cfg), objective, _print_summary, log)


def _print_summary(summary: dict) -> None:
    def num(value: object, fmt: str = ".3f") -> str:
        return format(value, fmt) if isinstance(value, int | float) else "n/a"

    lines = [
        f"done in {num(summary.get('train_seconds'), '.0f')} s, {summary.get('epochs')} epochs "
        f"(best {summary.get('best_epoch')}): val/loss {num(summary.get('val/loss'))}, "
        f"val/mel_l1 {num(summary.get('val/mel_l1'))}",
    ]
    synthesis = summary.get("synthesis") or {}
    for source in ("from_mel", "from_recon"):
        rows = synthesis.get(source) or {}
        if rows:
            lsd = "; ".join(
                f"{name} {num(r['lsd'].get('256'))}/{num(r['lsd'].get('8192'))}"
                for name, r in rows.items()
            )
            lines.append(f"LSD n_fft 256/8192 {source.replace('_', ' ')}: {lsd}")
    lines += [
        f"run folder: {summary.get('run_dir')}",
        f"best checkpoint: {summary.get('best_checkpoint')}",
        f"installed for vocoder=auto: {summary.get('installed')}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
