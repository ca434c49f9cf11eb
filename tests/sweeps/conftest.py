"""Helpers for sweep tests: tiny audio folders, a subprocess runner, W&B offline run records."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, read_summary, run_train, wandb_records, write_tones

__all__ = ["REPO", "read_summary", "run_train", "wandb_records", "write_tones"]

CONF = REPO / "conf"


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tones(tmp_path_factory.mktemp("audio"), 6)


def fast_args(folder: Path, *extra: str) -> list[str]:
    """Overrides of a tiny job: debug=fast on a folder of tones."""
    return ["debug=fast", "dataset=folder", f"dataset.path={folder}", *extra]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The numbered job folders of a multirun, in order."""
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
