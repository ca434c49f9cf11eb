"""Fixtures for the editing tests: the session's tiny VQ-VAE run (``tiny_run``) and the tiny
prior the prior tests train on it (``prior_run``, built once per test run via ``built_once``),
loaded once here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.prior.conftest import prior_run, vqvae_run

__all__ = ["prior_run", "vqvae_run"]


@pytest.fixture(scope="session")
def codec(tiny_run) -> Any:
    from rvqvae.codec.model import Codec

    return Codec.from_checkpoint(tiny_run.ckpt)


@pytest.fixture(scope="session")
def loaded_prior(prior_run: Path) -> Any:
    from rvqvae.prior.checkpoint import load_prior

    return load_prior(prior_run / "checkpoints" / "best.ckpt")


@pytest.fixture(scope="session")
def tones(tiny_run) -> list[Path]:
    """The tiny run's training audio (6 tones of 2 s)."""
    return sorted(tiny_run.audio.rglob("*.wav"))


@pytest.fixture(scope="session")
def tone_codes(codec, tones, tmp_path_factory) -> list[Path]:
    """Grid codes files of the first three tones, encoded once (inputs that need no encoding)."""
    from rvqvae.codec.format import save_codes
    from rvqvae.codec.grid import encode_grid_file

    folder = tmp_path_factory.mktemp("tone_codes")
    return [
        save_codes(encode_grid_file(codec, t), folder / f"{t.stem}.codes.npz") for t in tones[:3]
    ]
