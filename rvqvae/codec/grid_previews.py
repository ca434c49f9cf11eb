"""The code grid views of a VQ-VAE run's validation files at the end of training: the files the
previews' chunks come from, each whole file (its first ``max_seconds``) encoded into its grid by
the final model, as ``previews/final/grid_K.png`` and W&B ``previews/code_grid``.

A Lightning callback named in ``conf/callbacks/default.yaml`` (``callbacks.code_grids``); the
picture is :func:`rvqvae.codec.grid_view.save_grid_view`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from rvqvae.codec.grid_view import save_mel_codes_view


class CodeGridViews(Callback):
    """At the end of training (rank 0): the code grid view of up to ``num_files`` validation
    files, the files of the run's preview chunks (nothing when ``callbacks.previews`` is off),
    each cut to ``max_seconds``, in ``out_dir/final/grid_K.png`` and W&B ``previews/code_grid``
    (one image per file)."""

    def __init__(self, out_dir: str | Path, num_files: int = 4, max_seconds: float = 10.0) -> None:
        self.out_dir = Path(out_dir)
        self.num_files = int(num_files)
        self.max_seconds = float(max_seconds)
        self.written: list[Path] = []

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from rvqvae.training.previews import Previews

        datamodule = trainer.datamodule
        shown = [c.num_chunks for c in trainer.callbacks if isinstance(c, Previews)]
        if not trainer.is_global_zero or datamodule is None or not shown:
            return
        files = datamodule.preview_files(shown[0])[: max(0, self.num_files)]
        was_training = pl_module.training
        pl_module.eval()
        try:
            folder = self.out_dir / "final"
            self.written = write_grid_views(
                pl_module.model, datamodule, folder, files, self.max_seconds
            )
        finally:
            pl_module.train(was_training)
        _log_to_wandb(trainer, self.written)


def write_grid_views(
    model: Any, datamodule: Any, folder: Path, files: list[Path], max_seconds: float
) -> list[Path]:
    """``folder/grid_K.png`` for each of ``files``: its whole-file mel from the datamodule's
    feature cache (the first ``max_seconds``), encoded by ``model`` (eval mode)."""
    from rvqvae.data.cache import FeatureCache

    settings = datamodule.settings
    cache = FeatureCache(datamodule.cache_dir, settings, datamodule.normalize_peak)
    frames = max(16, round(max_seconds * settings.sample_rate / settings.hop_length))
    written = []
    for k, path in enumerate(files):
        mel = cache.get(path).mel[:, :frames]
        seconds = mel.shape[1] * settings.hop_length / settings.sample_rate
        title = f"{path.name} ({seconds:.1f} s): the final model's codes"
        written.append(save_mel_codes_view(model, mel, folder / f"grid_{k}.png", settings, title))
    return written


def _log_to_wandb(trainer: L.Trainer, written: list[Path]) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if not written or not any(isinstance(lg, WandbLogger) for lg in trainer.loggers):
        return
    import wandb

    from rvqvae.training.loggers import log_to_wandb

    images = [wandb.Image(str(p), caption=p.stem) for p in written]
    log_to_wandb(trainer, {"previews/code_grid": images})
