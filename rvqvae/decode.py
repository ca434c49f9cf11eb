"""``python -m rvqvae.decode ckpt=PATH input=CODES output=DIR [levels=K]``: codes -> mel + audio.

Writes ``<name>.mel.npy``, ``<name>.mel.png`` and ``<name>.wav`` per codes file;
``vocoder=auto|griffinlim|PATH`` says what makes the audio (``auto``: the vocoder trained for
the model's run, else Griffin-Lim).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

import rvqvae  # noqa: F401  (registers the OmegaConf resolvers before composition)

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("rvqvae.decode")


def run(cfg: dict[str, Any]) -> list[dict[str, Path]]:
    """Decode ``cfg['input']`` (a codes file or a folder of them) into ``cfg['output']``."""
    from rvqvae.codec import Codec, decode_path
    from rvqvae.console import codec_facts, start_line
    from rvqvae.vocoder.synthesize import build_synthesizer

    codec = Codec.from_checkpoint(cfg["ckpt"], device=cfg.get("device") or "cpu")
    synth = build_synthesizer(
        cfg.get("vocoder"), codec.settings, codec.path, int(cfg["griffin_lim_iters"])
    )
    log.info("decoding %s: %s", cfg["input"], start_line(codec_facts(codec)))
    log.info("audio: %s", synth.describe())
    results = decode_path(
        codec,
        cfg["input"],
        cfg["output"],
        levels=cfg.get("levels"),
        griffin_lim_iters=int(cfg["griffin_lim_iters"]),
        allow_mismatch=bool(cfg["allow_mismatch"]),
        batch_size=int(cfg["batch_size"]),
        griffin_lim_block_s=float(cfg["griffin_lim_block_s"]),
        griffin_lim_overlap_s=float(cfg["griffin_lim_overlap_s"]),
        write_png=bool(cfg["write_png"]),
        write_audio=bool(cfg["write_audio"]),
        restore_level=bool(cfg["restore_level"]),
        wav_subtype=str(cfg["wav_subtype"]),
        synthesizer=synth,
    )
    for paths in results:  # every file in the log; the console gets the closing line
        log.info("decoded: %s", ", ".join(str(p) for p in paths.values()), extra={"console": False})
    kinds = sorted({kind for paths in results for kind in paths})
    print(
        f"decoded {len(results)} file(s) into {cfg['output']} ({', '.join(kinds)}); "
        f"audio: {synth.describe()}"
    )
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="decode")
def main(cfg: DictConfig) -> None:
    from rvqvae.codec.cli import run_app

    run_app("decode", cfg, run)


if __name__ == "__main__":
    main()
