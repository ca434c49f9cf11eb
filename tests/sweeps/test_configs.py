"""Launcher, sweeper and DDP presets compose (no cluster, no study needed); thread split and the
DDP child command in a multirun."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import rvqvae  # noqa: F401  (registers resolvers)
from rvqvae.training.distributed import ddp_multirun_job, job_num_threads

from .conftest import CONF


def composed(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_joblib_launcher_preset() -> None:
    launcher = composed(["hydra/launcher=joblib"]).hydra.launcher
    assert launcher._target_.endswith("JoblibLauncher")
    assert launcher.n_jobs == 2 and launcher.backend == "loky"


def test_slurm_launcher_preset(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("submitit")
    cfg = composed(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=gpu"])
    launcher = cfg.hydra.launcher
    assert (
        launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    params: dict[str, Any] = {
        k: v for k, v in OmegaConf.to_container(launcher).items() if k != "submitit_folder"
    }
    expected = {
        "partition": "gpu",
        "gpus_per_node": 1,
        "tasks_per_node": 1,
        "nodes": 1,
        "cpus_per_task": 8,
        "mem_gb": 32,
        "timeout_min": 120,
        "array_parallelism": 16,
    }
    assert {k: params[k] for k in expected} == expected
    # submitit accepts every key the plugin passes on and writes the sbatch header from them
    # (a fake srun on PATH stands in for the cluster; nothing is submitted)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path / "%j")
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    params.pop("_target_")
    params.pop("max_num_timeout")
    params["name"] = "train"
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    sbatch = executor._executor._make_submission_file_text("python -m rvqvae.train", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --time=120",
        "#SBATCH --ntasks-per-node=1",
    ):
        assert line in sbatch, sbatch


def test_optuna_preset_search_space() -> None:
    pytest.importorskip("optuna")
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override
    from optuna.distributions import (
        CategoricalDistribution,
        IntUniformDistribution,
        LogUniformDistribution,
    )

    cfg = composed(["hparams_search=optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert sweeper.direction == "minimize" and sweeper.n_trials == 20
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.sampler.seed == 0
    parser = OverridesParser.create()
    space = {
        key: create_optuna_distribution_from_override(parser.parse_override(f"{key}={value}"))
        for key, value in sweeper.params.items()
    }
    assert space == {
        "optimizer.lr": LogUniformDistribution(1e-4, 3e-3),
        "model.codebook_dim": CategoricalDistribution([64, 128, 256]),
        "model.num_quantizers": IntUniformDistribution(2, 4),
    }


def test_ddp_preset() -> None:
    trainer = composed(["trainer=ddp"]).trainer
    assert trainer.strategy == "ddp" and trainer.devices == 2 and trainer.num_nodes == 1


@pytest.mark.parametrize(
    ("requested", "launcher", "cpus", "expected"),
    [
        (3, {"n_jobs": 2}, 8, 3),  # num_threads wins
        (None, {"n_jobs": 2}, 8, 4),
        (None, {"n_jobs": 2}, 2, 1),
        (None, {"n_jobs": 3}, 2, 1),  # never below 1
        (None, {"n_jobs": -1}, 8, 1),  # joblib: one job per core
        (None, {"n_jobs": -2}, 8, 1),  # all but one core: 7 jobs
        (None, {}, 8, None),  # basic launcher: torch's default
        (None, None, 8, None),
    ],
)
def test_job_num_threads(requested, launcher, cpus: int, expected: int | None) -> None:
    assert job_num_threads(requested, launcher, cpus) == expected


def test_ddp_children_rerun_only_this_job(monkeypatch: pytest.MonkeyPatch) -> None:
    hydra_cfg = OmegaConf.create(
        {
            "mode": RunMode.MULTIRUN,
            "run": {"dir": "outputs/runs/x"},
            "runtime": {"output_dir": "/abs/multirun/3"},
            "overrides": {"task": ["trainer=ddp", "model.codebook_dim=64"]},
        }
    )
    OmegaConf.set_readonly(hydra_cfg, True)
    argv = ["rvqvae/train.py", "-m", "trainer=ddp", "model.codebook_dim=64,128"]
    monkeypatch.setattr(sys, "argv", argv[:])
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    with ddp_multirun_job(hydra_cfg, distributed=True):
        assert sys.argv == ["rvqvae/train.py", "trainer=ddp", "model.codebook_dim=64"]
        assert hydra_cfg.run.dir == "/abs/multirun/3"
        os.environ["LOCAL_RANK"] = "0"  # what Lightning's launcher sets
        os.environ["MASTER_ADDR"] = "127.0.0.1"
    assert sys.argv == argv and hydra_cfg.run.dir == "outputs/runs/x"
    assert "LOCAL_RANK" not in os.environ and os.environ["MASTER_ADDR"] == "10.0.0.1"
    with ddp_multirun_job(hydra_cfg, distributed=False):
        assert sys.argv == argv
    single = OmegaConf.create({"mode": RunMode.RUN, "run": {"dir": "r"}})
    with ddp_multirun_job(single, distributed=True):
        assert sys.argv == argv and single.run.dir == "r"
