"""Fixtures for training tests: tiny real audio folders and a subprocess runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, read_summary, run_train, train_here, write_tones

__all__ = ["REPO", "fast_args", "read_summary", "run_train", "train_here", "write_tones"]


def fast_args(folder: Path, run_dir: Path, *extra: str) -> list[str]:
    """Overrides of a tiny ``debug=fast`` run on ``folder`` writing into ``run_dir``."""
    return [
        "debug=fast",
        "dataset=folder",
        f"dataset.path={folder}",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


@pytest.fixture
def tone_folder(tmp_path: Path) -> Path:
    return write_tones(tmp_path / "audio", 6)
