"""Fixtures for the prior tests: the session's tiny VQ-VAE run (``tiny_run``) and one tiny prior
trained on it in-process on the real composed config (``train_prior(cfg)``) once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import built_once, run_module, train_here

__all__ = ["PRIOR_ARGS", "check", "run_module"]

# A tiny prior: a couple of epochs, short samples, one augmented copy per file.
PRIOR_ARGS = [
    "debug=fast",
    "prior.model.d_model=32",
    "prior.model.n_layers=1",
    "prior.model.n_heads=2",
    "prior.model.context_columns=8",
    "prior.model.fim_rate=0.5",  # half the batches as prefix, suffix, middle (edit method=fim)
    "dataset.augment_copies=1",
    "evaluation.num_samples=2",
    "evaluation.seconds=1.5",  # > one 1 s window: the windowed figures are finite
    "callbacks.previews.seconds=1.0",
]


def check(proc, what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def vqvae_run(tiny_run) -> dict[str, Path]:
    """The session's tiny trained RVQ-VAE (``tiny_run``): ``{"run", "audio", "root"}``."""
    return {"run": tiny_run.run, "audio": tiny_run.audio, "root": tiny_run.root}


@pytest.fixture(scope="session")
def prior_run(vqvae_run: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny prior trained on ``vqvae_run`` once per test run (shared by the xdist workers);
    returns its run folder."""

    def build(folder: Path) -> dict:
        args = [f"vqvae={vqvae_run['run']}", *PRIOR_ARGS]
        cache = vqvae_run["root"] / "cache"
        return train_here(args, folder / "prior", cache_dir=cache, job="train_prior")

    folder, _ = built_once(tmp_path_factory, "tiny_prior", build)
    return folder / "prior"
