"""``python -m rvqvae.studio runs=outputs/ [data=[DIR]] [port=7860]``: the local studio page.

Serves ``http://127.0.0.1:7860`` until Ctrl-C (``conf/studio.yaml`` lists every setting).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="studio")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    def serve(plain: dict) -> None:
        from rvqvae.studio.server import start

        start(plain, HydraConfig.get().runtime.output_dir, block=True)

    run_app("studio", cfg, serve)


if __name__ == "__main__":
    main()
