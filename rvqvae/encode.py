"""``python -m rvqvae.encode ckpt=PATH input=FILE_OR_DIR output=DIR [layout=grid|chunks]``.

One ``<name>.codes.npz`` per audio file (folders are mirrored); see :mod:`rvqvae.codec.format`.
``layout=grid`` (default): one whole-file code grid per file; ``layout=chunks``: overlapping
1 s chunks (``overlap=0.5``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.encode")


def run(cfg: dict[str, Any]) -> list[tuple[Path, Path]]:
    """Encode ``cfg['input']`` into ``cfg['output']``; returns ``[(audio, codes file)]``."""
    from rvqvae.codec import Codec, encode_path
    from rvqvae.codec.grid import grid_bitrate_bps
    from rvqvae.console import codec_facts, start_line

    codec = Codec.from_checkpoint(cfg["ckpt"], device=cfg.get("device") or "cpu")
    layout = str(cfg["layout"])
    facts = codec_facts(codec)
    if layout == "grid":  # the rate the written files have (the chunk layout's is nominal)
        facts["bitrate_bps"] = grid_bitrate_bps(codec)
    log.info("encoding %s: %s", cfg["input"], start_line(facts))
    written, bad = encode_path(
        codec,
        cfg["input"],
        cfg["output"],
        overlap=float(cfg["overlap"]),
        batch_size=int(cfg["batch_size"]),
        block_samples=int(cfg["block_samples"]),
        on_bad_file=str(cfg["on_bad_file"]),
        layout=layout,
    )
    if layout == "grid":
        how = f"whole-file code grids, {grid_bitrate_bps(codec):.0f} bit/s"
    else:
        how = (
            f"chunk {codec.chunk_frames} frames, hop by overlap {cfg['overlap']}, "
            f"{codec.bitrate_bps():.0f} bit/s at no overlap"
        )
    print(
        f"encoded {len(written)} file(s) into {cfg['output']} ({how})"
        + (f"; skipped {len(bad)} bad file(s)" if bad else "")
    )
    return written


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="encode")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("encode", cfg, run)


if __name__ == "__main__":
    main()
