"""Fixtures for training tests: tiny real audio folders and a subprocess runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, read_summary, run_train, write_tones

__all__ = ["REPO", "read_summary", "run_train", "write_tones"]


@pytest.fixture
def tone_folder(tmp_path: Path) -> Path:
    return write_tones(tmp_path / "audio", 6)
