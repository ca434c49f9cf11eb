"""Prior run callbacks: generated previews every few epochs (folder and W&B)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from rvqvae.codec.model import Codec
from rvqvae.prior.evaluation import Samples, sample
from rvqvae.prior.sampling import SamplingSettings
from rvqvae.prior.writer import write_sample
from rvqvae.vocoder.synthesize import Synthesizer, build_synthesizer


class PriorPreviews(Callback):
    """Every ``interval`` epochs: ``num`` samples of ``seconds`` s from the prior in training,
    as ``previews/epoch_NNNN/sample_K.{wav,png,codes.npz}`` and ``sample_K_grid.png`` (the code
    grid view), and W&B ``previews/samples`` (audio), ``sample_mels``, ``sample_grids``."""

    def __init__(
        self,
        out_dir: str | Path,
        codec: Codec,
        interval: int,
        num: int = 2,
        seconds: float = 4.0,
        griffin_lim_iters: int = 32,
        seed: int = 0,
        vocoder: str = "auto",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.codec = codec
        self.interval = max(1, int(interval))
        self.num = max(1, int(num))
        self.seconds = float(seconds)
        self.griffin_lim_iters = int(griffin_lim_iters)
        self.seed = int(seed)
        self.vocoder = vocoder
        self._synth: Synthesizer | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.interval or not trainer.is_global_zero:
            return
        was_training = pl_module.training
        pl_module.eval()
        try:
            samples = sample(
                pl_module.prior, self.codec, self.num, self.seconds, SamplingSettings(), self.seed
            )
        finally:
            pl_module.train(was_training)
        self.write(trainer, samples, f"epoch_{epoch:04d}")

    def write(self, trainer: L.Trainer | None, samples: Samples, name: str) -> Path:
        """Write the first ``num`` of ``samples`` into ``previews/<name>/`` (and W&B)."""
        folder = self.out_dir / name
        if self._synth is None:  # vocoder=auto: the VQ-VAE run's vocoder, else Griffin-Lim
            self._synth = build_synthesizer(
                self.vocoder, self.codec.settings, self.codec.path, self.griffin_lim_iters
            )
        written = [
            write_sample(
                self.codec,
                samples.mels[k],
                samples.num_samples,
                folder,
                f"sample_{k}",
                self.griffin_lim_iters,
                samples.grids[k],
                {"preview": name, "index": k},
                self._synth,
            )
            for k in range(min(self.num, samples.mels.shape[0]))
        ]
        if trainer is not None:
            _log_samples(trainer, written, self.codec.settings.sample_rate)
        return folder


def _log_samples(trainer: L.Trainer, written: list[dict[str, Path]], sample_rate: int) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        return
    import soundfile as sf
    import wandb

    from rvqvae.training.loggers import log_to_wandb

    data: dict[str, Any] = {
        "previews/samples": [
            wandb.Audio(
                sf.read(p["wav"], dtype="float32")[0],
                sample_rate=sample_rate,
                caption=p["wav"].stem,
            )
            for p in written
        ],
        "previews/sample_mels": [wandb.Image(str(p["png"])) for p in written],
        "previews/sample_grids": [
            wandb.Image(str(p["grid"]), caption=p["grid"].stem) for p in written if "grid" in p
        ],
    }
    log_to_wandb(trainer, data)
