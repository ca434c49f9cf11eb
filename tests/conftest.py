"""Shared test set-up: W&B never reaches a server, caches stay in temp folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.helpers import TinyVocoder

# Under pytest-xdist (make test runs -n 2) each worker, and every process it starts, gets one
# torch thread: two workers with two spinning OpenMP threads each on 2 cores slow each other down.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

_WANDB_TMP = tempfile.mkdtemp(prefix="rvqvae-wandb-")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["WANDB_CACHE_DIR"] = os.path.join(_WANDB_TMP, "cache")
os.environ["WANDB_DATA_DIR"] = os.path.join(_WANDB_TMP, "data")
os.environ["WANDB_CONFIG_DIR"] = os.path.join(_WANDB_TMP, "config")


# The end-of-training listening test (off under debug=fast) on one validation file's first second:
# the shared runs' summaries carry val/visqol, val/lsd, ... for the tests that read them.
PERCEPTUAL_ON = [
    "evaluation.perceptual.max_files=1",
    "evaluation.perceptual.max_seconds=1.0",
    "evaluation.perceptual.griffin_lim_iters=4",
]


@pytest.fixture(autouse=True)
def _seed_torch():
    import torch

    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def fast_wandb_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One ``debug=fast`` run on 6 tones with ``logger=wandb`` offline, trained in-process on
    the real composed config once per test run (shared by the xdist workers) and only read by
    the tests that share it (training outputs, W&B modes, W&B Report keys, the DDP reference):
    ``{"run", "audio", "summary"}``."""
    from tests.helpers import WANDB_OFFLINE, built_once, train_here, write_tones

    def build(base: Path) -> dict:
        audio = write_tones(base / "audio", 6)
        run_dir = base / "outputs" / "2024-05-03" / "08-00-00"
        overrides = ["debug=fast", "dataset=folder", f"dataset.path={audio}", "logger=wandb"]
        overrides += PERCEPTUAL_ON  # val/visqol for the W&B panel that reads it
        return train_here(overrides, run_dir, cache_dir=base / "cache", env=WANDB_OFFLINE)

    base, summary = built_once(tmp_path_factory, "fast_wandb", build)
    run = base / "outputs" / "2024-05-03" / "08-00-00"
    return {"run": run, "audio": base / "audio", "summary": summary}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    """One tiny RVQ-VAE (``debug=fast`` toy recipe, 4 epochs on 6 tones of 2 s) trained
    in-process on the real composed config once per test run (shared by the xdist workers) and
    read by the codec, prior, report, vocoder and CLI tests: a :class:`tests.helpers.TinyRun`.
    Tests that change its run folder copy it first."""
    from tests.helpers import TinyRun, built_once, toy_train_args, train_here, write_tones

    def build(root: Path) -> dict:
        audio = write_tones(root / "audio", 6, seconds=2.0)
        args = [*toy_train_args(epochs=4), f"dataset.path={audio}", *PERCEPTUAL_ON]
        return train_here(args, root / "vqvae", cache_dir=root / "cache")

    root, summary = built_once(tmp_path_factory, "tiny_run", build)
    return TinyRun(
        root=root, run=root / "vqvae", audio=root / "audio", cache=root / "cache", summary=summary
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort): under pytest-xdist the long ones then start while the
    short ones can still fill the other worker, instead of one long test running alone at the
    end of the suite."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def tiny_vocoder(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> TinyVocoder:
    """One tiny vocoder of a copy of ``tiny_run``'s VQ-VAE (installed in it), trained
    in-process on the real composed config with W&B offline, once per test run (shared by the
    xdist workers, ``built_once``)."""
    import shutil

    from tests.helpers import TINY_VOCODER, WANDB_OFFLINE, TinyVocoder, built_once, train_here

    def build(root: Path) -> dict[str, Any]:
        shutil.copytree(tiny_run.run, root / "vqvae")
        args = [f"vqvae={root / 'vqvae'}", *TINY_VOCODER]
        run = root / "vocoder_run"
        args.append("logger=wandb")  # offline: the W&B Report's vocoder keys are checked
        return train_here(
            args, run, cache_dir=tiny_run.cache, env=WANDB_OFFLINE, job="train_vocoder"
        )

    root, summary = built_once(tmp_path_factory, "tiny_vocoder", build)
    return TinyVocoder(
        vqvae=root / "vqvae", run=root / "vocoder_run", cache=tiny_run.cache, summary=summary
    )
