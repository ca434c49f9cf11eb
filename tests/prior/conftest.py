"""Fixtures for the prior tests: one tiny VQ-VAE run and one tiny prior run per session, both
trained in-process on the real composed configs (``train(cfg)``, ``train_prior(cfg)``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_module, toy_train_args, train_here, write_tones

__all__ = ["PRIOR_ARGS", "VQVAE_ARGS", "check", "run_module"]

VQVAE_ARGS = toy_train_args(epochs=3)
# A tiny prior: a couple of epochs, short samples, one augmented copy per file.
PRIOR_ARGS = [
    "debug=fast",
    "prior.model.d_model=32",
    "prior.model.n_layers=1",
    "prior.model.n_heads=2",
    "prior.model.context_columns=8",
    "dataset.augment_copies=1",
    "evaluation.num_samples=2",
    "evaluation.seconds=1.0",
    "callbacks.previews.seconds=1.0",
]


def check(proc, what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def vqvae_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny trained RVQ-VAE: ``{"run", "audio", "root"}``."""
    root = tmp_path_factory.mktemp("prior_vqvae")
    audio = write_tones(root / "audio", 6, seconds=2.0)
    run = root / "vqvae"
    train_here([*VQVAE_ARGS, f"dataset.path={audio}"], run, cache_dir=root / "cache")
    return {"run": run, "audio": audio, "root": root}


@pytest.fixture(scope="session")
def prior_run(vqvae_run: dict[str, Path]) -> Path:
    """A tiny prior trained on ``vqvae_run``; returns its run folder."""
    root = vqvae_run["root"]
    run = root / "prior"
    args = [f"vqvae={vqvae_run['run']}", *PRIOR_ARGS]
    train_here(args, run, cache_dir=root / "cache", job="train_prior")
    return run
