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
    """The preset names the real plugin, and its n_jobs is what each job's threads split by."""
    from hydra.utils import get_class

    launcher = composed(["hydra/launcher=joblib"]).hydra.launcher
    assert get_class(launcher._target_).__name__ == "JoblibLauncher"
    assert launcher.n_jobs >= 2  # a parallel preset
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import Parallel

    kwargs = {k: v for k, v in OmegaConf.to_container(launcher).items() if k != "_target_"}
    process_joblib_cfg(kwargs)  # what the plugin does before joblib.Parallel(**kwargs)
    assert Parallel(**kwargs).n_jobs == launcher.n_jobs  # joblib takes every key of the preset
    plain = OmegaConf.to_container(launcher, resolve=True)
    for cpus in (2, 8, 16):  # the jobs side by side never ask for more cores than there are
        threads = job_num_threads(None, plain, cpus)
        assert threads is not None and (threads == 1 or threads * launcher.n_jobs <= cpus)


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
    assert params["partition"] == "gpu"  # the override reached the launcher
    # trainer=gpu runs one rank per GPU: the SLURM tasks match the trainer's devices
    assert params["tasks_per_node"] == params["gpus_per_node"] == cfg.trainer.devices
    assert params["nodes"] == cfg.trainer.get("num_nodes", 1)
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
        f"#SBATCH --partition={params['partition']}",
        f"#SBATCH --gpus-per-node={params['gpus_per_node']}",
        f"#SBATCH --cpus-per-task={params['cpus_per_task']}",
        f"#SBATCH --mem={params['mem_gb']}GB",
        f"#SBATCH --time={params['timeout_min']}",
        f"#SBATCH --ntasks-per-node={params['tasks_per_node']}",
    ):
        assert line in sbatch, sbatch


def test_optuna_preset_search_space() -> None:
    """Every searched parameter is a real key of the train config and parses into an Optuna
    distribution; the study minimises a summary key (all are lower-is-better) in a multirun."""
    pytest.importorskip("optuna")
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.utils import get_class
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override
    from optuna.distributions import BaseDistribution

    from rvqvae.training.validation import OBJECTIVE_KEYS

    cfg = composed(["hparams_search=optuna"])
    sweeper = cfg.hydra.sweeper
    assert get_class(sweeper._target_).__name__ == "OptunaSweeper"
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert sweeper.direction == "minimize" and cfg.optimized_metric in OBJECTIVE_KEYS
    assert sweeper.n_trials >= 2
    get_class(sweeper.sampler._target_)  # the sampler exists in the installed optuna
    parser = OverridesParser.create()
    assert sweeper.params
    for key, value in sweeper.params.items():
        assert OmegaConf.select(cfg, key, default=None) is not None, f"{key} is not a config key"
        dist = create_optuna_distribution_from_override(parser.parse_override(f"{key}={value}"))
        assert isinstance(dist, BaseDistribution), key


def test_ddp_preset() -> None:
    from rvqvae.training.distributed import distributed_world_size
    from rvqvae.training.run import is_distributed_config

    trainer = OmegaConf.to_container(composed(["trainer=ddp"]).trainer)
    assert is_distributed_config(trainer) and distributed_world_size(trainer) >= 2


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
