"""Fixtures for the prior tests: one tiny VQ-VAE run and one tiny prior run per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_module, toy_train_args, write_tones

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
    args = [*VQVAE_ARGS, f"dataset.path={audio}", f"hydra.run.dir={run}"]
    check(run_module("rvqvae.train", args, root), "train")
    return {"run": run, "audio": audio, "root": root}


@pytest.fixture(scope="session")
def prior_run(vqvae_run: dict[str, Path]) -> Path:
    """A tiny prior trained on ``vqvae_run`` through the real CLI; returns its run folder."""
    root = vqvae_run["root"]
    run = root / "prior"
    args = [f"vqvae={vqvae_run['run']}", *PRIOR_ARGS, f"hydra.run.dir={run}"]
    check(run_module("rvqvae.train_prior", args, root), "train_prior")
    return run
