"""Shared test set-up: W&B never reaches a server, caches stay in temp folders."""

from __future__ import annotations

import os
import tempfile

import pytest

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


@pytest.fixture(autouse=True)
def _seed_torch():
    import torch

    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def fast_wandb_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One ``debug=fast`` run on 6 tones with ``logger=wandb`` offline, trained in-process on
    the real composed config once per session and only read by the tests that share it
    (training outputs, W&B modes, W&B Report keys, the DDP reference): ``{"run", "audio",
    "summary"}``."""
    from tests.helpers import WANDB_OFFLINE, train_here, write_tones

    base = tmp_path_factory.mktemp("fast_wandb")
    audio = write_tones(base / "audio", 6)
    run_dir = base / "outputs" / "2024-05-03" / "08-00-00"
    overrides = ["debug=fast", "dataset=folder", f"dataset.path={audio}", "logger=wandb"]
    summary = train_here(overrides, run_dir, cache_dir=base / "cache", env=WANDB_OFFLINE)
    return {"run": run_dir, "audio": audio, "summary": summary}
