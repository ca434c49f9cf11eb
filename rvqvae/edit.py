"""``python -m rvqvae.edit ckpt=CKPT op=OP a=CODES_OR_AUDIO [b=...] [range=[S,E]] ...``.

Edits audio through its code grid (:mod:`rvqvae.editing`): ``show``, ``swap_levels``,
``blend``, ``splice`` (a VQ-VAE or a prior checkpoint), ``inpaint``, ``variation``,
``continue`` (a prior checkpoint). Writes ``<name>.codes.npz`` (readable by
``python -m rvqvae.decode``, its edit history in the metadata), ``<name>.wav`` and
``<name>.png`` (the code grid above the mel). Settings: ``conf/edit.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="edit")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app
    from rvqvae.editing.app import run

    run_app("edit", cfg, lambda plain: run(plain, HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
