"""``python -m rvqvae.export ckpt=PATH [format=onnx|torchscript] [parts=[...]] [output=DIR]``.

Writes ``<part>.onnx`` (or ``.pt``), ``mel.json`` + ``mel_filterbank.npy`` + ``mel_window.npy``
and ``manifest.json`` into ``output`` (default: this job's folder); see :mod:`rvqvae.export.run`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
log = logging.getLogger("rvqvae.export")


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Export, then print one closing line."""
    from hydra.core.hydra_config import HydraConfig

    from rvqvae.export.run import export_run

    output = Path(cfg.get("output") or HydraConfig.get().runtime.output_dir)
    manifest = export_run(cfg, output)  # a skipped part is logged as "cannot export PART: why"
    skipped = f"; could not export {', '.join(manifest['skipped'])}" if manifest["skipped"] else ""
    print(
        f"exported {', '.join(manifest['parts'])} as {manifest['format']} into {output} "
        f"(manifest.json, mel.json){skipped}"
    )
    return manifest


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("export", cfg, run)


if __name__ == "__main__":
    main()
