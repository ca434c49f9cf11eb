"""Shared test set-up: W&B never reaches a server, caches stay in temp folders."""

from __future__ import annotations

import os
import tempfile

import pytest

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
