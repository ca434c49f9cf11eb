"""``python -m rvqvae.studio runs=outputs/ [data=[DIR]] [port=7860]``: the local studio page.

Serves ``http://127.0.0.1:7860`` until Ctrl-C (``conf/studio.yaml`` lists every setting). A bad
setting is one line and exit status 1, as in the other CLIs; torch is not imported before the
page is up (the CLIs' shared runner, ``rvqvae.codec.cli``, would import it with the codec).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
log = logging.getLogger("rvqvae.studio")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="studio")
def main(cfg: DictConfig) -> None:
    from rvqvae.console import setup_console
    from rvqvae.studio.safety import StudioError

    setup_console()
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        assert isinstance(plain, dict)
        if plain.get("num_threads"):
            import torch

            torch.set_num_threads(int(plain["num_threads"]))
        from rvqvae.studio.server import start

        start(plain, HydraConfig.get().runtime.output_dir, block=True)
    except (StudioError, OSError, ValueError) as exc:
        log.error("%s", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
