"""One tiny vocoder trained in-process (real composed config) on a copy of the session's tiny
VQ-VAE run, shared read-only by the vocoder tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TINY_VOCODER = [
    "vocoder.model.dim=16",
    "vocoder.model.intermediate_dim=32",
    "vocoder.model.num_layers=1",
    "vocoder.loss.fft_sizes=[256,1024]",
    "dataset.segment_frames=8",
    "dataset.batch_size=4",
    "dataset.val_crops_per_file=1",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.enable_progress_bar=false",
    "evaluation.max_files=1",
    "evaluation.max_seconds=0.5",
    "evaluation.griffin_lim_iters=2",
]


@dataclass(frozen=True)
class TinyVocoder:
    """The copied VQ-VAE run (``vqvae``, vocoder installed in it), the vocoder's run folder and
    its summary."""

    vqvae: Path
    run: Path
    cache: Path
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def tiny_vocoder(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> TinyVocoder:
    """Trained once per test run (shared by the xdist workers, ``built_once``)."""
    from tests.helpers import built_once, train_here

    def build(root: Path) -> dict[str, Any]:
        shutil.copytree(tiny_run.run, root / "vqvae")
        args = [f"vqvae={root / 'vqvae'}", *TINY_VOCODER]
        run = root / "vocoder_run"
        return train_here(args, run, cache_dir=tiny_run.cache, job="train_vocoder")

    root, summary = built_once(tmp_path_factory, "tiny_vocoder", build)
    return TinyVocoder(
        vqvae=root / "vqvae", run=root / "vocoder_run", cache=tiny_run.cache, summary=summary
    )
