"""Training previews: every few epochs and at the end, original vs reconstruction mels (PNG) and
audio (WAV) of fixed validation chunks, in the run folder's ``previews/`` and W&B."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from rvqvae.atomic import atomic_path


class Previews(Callback):
    """Every ``interval`` epochs and at the end: original vs reconstruction mels (PNG) and audio
    (WAV: the run's vocoder or Griffin-Lim) for a fixed set of validation chunks, in
    ``previews/`` and W&B."""

    def __init__(
        self,
        out_dir: str | Path,
        interval: int,
        num_chunks: int = 4,
        griffin_lim_iters: int = 32,
        vocoder: str = "auto",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.interval = max(1, int(interval))
        self.num_chunks = num_chunks
        self.griffin_lim_iters = griffin_lim_iters
        self.vocoder = vocoder  # auto: RUN/vocoder/vocoder.ckpt (e.g. when resuming), else GL
        self.written: list[Path] = []
        # Griffin-Lim is most of a preview's cost: the originals' audio is made once (the chunks
        # are fixed), and the final preview reuses the last one's when no step came between
        self._original_audio: tuple[int, list[np.ndarray]] | None = None  # (chunks hash, audio)
        self._recon_audio: tuple[int, list[np.ndarray]] | None = None  # (global step, audio)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.interval == 0:
            self.write(trainer, pl_module, f"epoch_{epoch:04d}")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write(trainer, pl_module, "final")

    @torch.no_grad()
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str) -> Path | None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return None
        import soundfile as sf

        from rvqvae.vocoder.synthesize import build_synthesizer

        datamodule = trainer.datamodule
        chunks = datamodule.preview_chunks(self.num_chunks)
        if chunks.shape[0] == 0:
            return None
        was_training = pl_module.training
        pl_module.eval()
        recon, _, _ = pl_module.model(chunks.to(pl_module.device))
        pl_module.train(was_training)
        originals = chunks[:, 0].cpu().float().numpy()
        recons = recon[:, 0].cpu().float().numpy()
        folder = self.out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        settings = datamodule.settings

        best = self.out_dir.parent / "checkpoints" / "best.ckpt"
        synth = build_synthesizer(self.vocoder, settings, best, self.griffin_lim_iters)

        def vocode(mels: np.ndarray) -> list[np.ndarray]:
            return [synth(mel) for mel in mels]

        key = hash(originals.tobytes())
        if self._original_audio is None or self._original_audio[0] != key:
            self._original_audio = (key, vocode(originals))
        if self._recon_audio is None or self._recon_audio[0] != trainer.global_step:
            self._recon_audio = (trainer.global_step, vocode(recons))
        audio_items = []
        for k, pair in enumerate(zip(self._original_audio[1], self._recon_audio[1])):
            for kind, audio in zip(("original", "recon"), pair):
                path = folder / f"{k}_{kind}.wav"
                with atomic_path(path) as tmp:
                    sf.write(tmp, audio, settings.sample_rate, format="WAV")
                audio_items.append((f"{k}_{kind}", audio))
        png = folder / "mels.png"
        save_mel_comparison(originals, recons, png, title=f"{name}: original (top) vs recon")
        self.written.append(folder)
        _log_previews_to_wandb(trainer, png, audio_items, settings.sample_rate)
        return folder


def save_mel_comparison(
    originals: np.ndarray, recons: np.ndarray, path: Path, title: str = ""
) -> None:
    """PNG grid: originals on the top row, reconstructions below (shared colour scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 4.6), squeeze=False)
    vmax = float(max(originals.max(), recons.max(), 1e-6))
    for k in range(n):
        for row, mel in enumerate((originals[k], recons[k])):
            ax = axes[row][k]
            ax.imshow(mel, origin="lower", aspect="auto", vmin=0.0, vmax=vmax, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][k].set_title(f"chunk {k}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    # fixed margins (inches / figure size): tight_layout measured every text, ~a third of the time
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=1 - 0.6 / 4.6, wspace=0.06)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _log_previews_to_wandb(
    trainer: L.Trainer, png: Path, audio_items: list[tuple[str, np.ndarray]], sample_rate: int
) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        return
    import wandb

    from rvqvae.training.loggers import log_to_wandb

    log_to_wandb(
        trainer,
        {
            "previews/mels": wandb.Image(str(png)),
            "previews/audio": [
                wandb.Audio(audio, sample_rate=sample_rate, caption=caption)
                for caption, audio in audio_items
            ],
        },
    )
