"""``hydra/launcher=gpu_shared``: n_jobs from jobs_per_gpu x gpus, each job on GPU job.num % gpus,
threads split by n_jobs, DDP refused, and a real 2-job sweep through it on the CPU (the suite's
real joblib sweep)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from rvqvae.training.distributed import available_cpus, job_num_threads
from rvqvae.training.gpu_share import GpuShareError, shared_gpu_devices, shared_gpu_jobs
from rvqvae.training.run import check_launcher
from rvqvae.training.validation import ConfigError
from tests.helpers import train_here

from .conftest import fast_args, job_dirs, read_summary, run_train
from .test_configs import composed
from .test_multirun import _report_rows

GPU = {"accelerator": "gpu", "devices": 1}


def _placed(share: dict[str, Any], jobs: int, visible: int) -> list[int]:
    devices = [shared_gpu_devices(GPU, share, num, visible=visible) for num in range(jobs)]
    assert all(d is not None and len(d) == 1 for d in devices), devices
    return [d[0] for d in devices]  # type: ignore[index]


def test_jobs_spread_round_robin_over_the_gpus() -> None:
    placed = _placed({"jobs_per_gpu": 3, "gpus": 2}, 6, visible=2)
    assert Counter(placed) == {0: 3, 1: 3}
    assert all(a != b for a, b in zip(placed, placed[1:]))  # neighbours on different GPUs
    # gpus=auto: every visible GPU; 9 jobs on 3 GPUs -> 3 each
    assert Counter(_placed({"jobs_per_gpu": 3, "gpus": "auto"}, 9, visible=3)) == {0: 3, 1: 3, 2: 3}
    # an int below the visible count keeps to the first GPUs
    assert set(_placed({"jobs_per_gpu": 2, "gpus": 2}, 8, visible=4)) == {0, 1}
    # one GPU: every job on it
    assert set(_placed({"jobs_per_gpu": 4, "gpus": "auto"}, 5, visible=1)) == {0}


def test_cpu_jobs_are_left_as_they_are() -> None:
    share = {"jobs_per_gpu": 3, "gpus": "auto"}
    assert shared_gpu_devices({"accelerator": "cpu", "devices": 1}, share, 4, visible=2) is None
    assert shared_gpu_devices({"accelerator": "auto", "devices": 1}, share, 4, visible=0) is None
    # accelerator=auto with a GPU present trains on it, so it is placed too
    assert shared_gpu_devices({"accelerator": "auto", "devices": 1}, share, 3, visible=2) == [1]


@pytest.mark.parametrize(
    ("trainer", "share", "visible", "setting"),
    [
        (GPU, {"jobs_per_gpu": 0, "gpus": 1}, 1, "gpu_share.jobs_per_gpu"),
        (GPU, {"jobs_per_gpu": "3", "gpus": 1}, 1, "gpu_share.jobs_per_gpu"),
        (GPU, {"jobs_per_gpu": 3, "gpus": "two"}, 2, "gpu_share.gpus"),
        (GPU, {"jobs_per_gpu": 3, "gpus": 4}, 2, "gpu_share.gpus=4"),
        (GPU, {"jobs_per_gpu": 3, "gpus": "auto"}, 0, "gpu_share.gpus=auto"),
        (
            {"accelerator": "gpu", "devices": 2},
            {"jobs_per_gpu": 3, "gpus": 1},
            2,
            "trainer.devices",
        ),
    ],
)
def test_misconfiguration_names_the_setting(trainer, share, visible: int, setting: str) -> None:
    with pytest.raises(GpuShareError) as err:
        shared_gpu_devices(trainer, share, 0, visible=visible)
    assert setting in str(err.value) and "\n" not in str(err.value)


def test_preset_composes_n_jobs_from_jobs_per_gpu_and_gpus() -> None:
    """The real preset: n_jobs follows the two keys, and joblib accepts every launcher key."""
    import torch
    from hydra.utils import get_class
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import Parallel

    cfg = composed(["hydra/launcher=gpu_shared", "gpu_share.jobs_per_gpu=4", "gpu_share.gpus=2"])
    assert get_class(cfg.hydra.launcher._target_).__name__ == "JoblibLauncher"
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["n_jobs"] == 8
    kwargs = {k: v for k, v in launcher.items() if k != "_target_"}
    process_joblib_cfg(kwargs)  # what the plugin does before joblib.Parallel(**kwargs)
    assert Parallel(**kwargs).n_jobs == 8
    # auto: one share per visible GPU; a CPU-only machine runs jobs_per_gpu jobs side by side
    auto = composed(["hydra/launcher=gpu_shared", "gpu_share.jobs_per_gpu=5"]).hydra.launcher
    assert auto.n_jobs == 5 * max(1, torch.cuda.device_count())
    assert shared_gpu_jobs(5, "auto", visible=0) == 5
    # the basic and joblib launchers have no gpu_share node: nothing is placed there
    assert "gpu_share" not in composed(["hydra/launcher=joblib"])


def test_preset_splits_threads_and_refuses_ddp() -> None:
    cfg = composed(["hydra/launcher=gpu_shared", "gpu_share.jobs_per_gpu=3", "gpu_share.gpus=2"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    for cpus in (4, 16, 64):  # 6 jobs side by side never ask for more cores than there are
        threads = job_num_threads(None, launcher, cpus)
        assert threads is not None and (threads == 1 or threads * 6 <= cpus)
    with pytest.raises(ConfigError, match="trainer.strategy=ddp"):
        check_launcher(cfg.hydra, is_distributed=True)
    check_launcher(cfg.hydra, is_distributed=False)


def test_gpu_job_without_a_gpu_stops_with_the_setting(tone_folder: Path, tmp_path: Path) -> None:
    """run.py places the job: on a machine without the GPUs asked for it fails on one line."""
    import torch

    if torch.cuda.device_count() >= 4:
        pytest.skip("4 GPUs are visible: the job would train")
    overrides = [
        *fast_args(tone_folder, "hydra/launcher=gpu_shared", "trainer.accelerator=gpu"),
        "gpu_share.gpus=4",
    ]
    with pytest.raises(GpuShareError, match="gpu_share.gpus=4"):
        train_here(overrides, tmp_path / "run")
    summary = read_summary(tmp_path / "run")
    assert summary["status"] == "failed" and "gpu_share.gpus=4" in summary["error"]


@pytest.mark.slow  # 16-26 s on 2 cores: two loky workers start, import torch and train
@pytest.mark.xdist_group("multiprocess")
def test_sweep_through_the_preset_on_cpu(tone_folder: Path, tmp_path: Path) -> None:
    """The one real joblib sweep of the suite (the plain ``hydra/launcher=joblib`` preset is the
    same plugin; its composition is tested in test_configs.py): two loky workers side by side,
    each with its share of the cores, and the sweep's report."""
    sweep = tmp_path / "sweep"
    args = fast_args(
        tone_folder,
        "hydra/launcher=gpu_shared",
        "gpu_share.jobs_per_gpu=2",
        "gpu_share.gpus=1",
        "trainer.accelerator=cpu",
        "model.codebook_dim=16,32",
    )
    proc = run_train(["-m", *args, f"hydra.sweep.dir={sweep}"], tmp_path)
    # the launcher really ran 2 at a time (Hydra logs the joblib.Parallel arguments)
    assert re.search(
        r"Joblib\.Parallel\(n_jobs=2,.*\) is launching 2 jobs", proc.stdout + proc.stderr
    )
    assert "JoblibLauncher" in (sweep / "multirun.yaml").read_text()
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1"]
    share = max(1, available_cpus() // 2)
    spans = []
    for job, dim in zip(jobs, (16, 32)):
        summary = read_summary(job)
        assert summary["status"] == "completed" and summary["codebook_dim"] == dim
        log = (job / "train.log").read_text()
        (threads,) = re.findall(r"torch threads: (\d+)", log)
        assert int(threads) == share
        assert "gpu_shared: job" not in log  # CPU jobs keep trainer.devices as it is
        stamps = re.findall(r"^\[([\d\- :,]+)\]", log, flags=re.M)
        spans.append((stamps[0], stamps[-1]))
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans  # side by side
    assert len(_report_rows(sweep)) == 2
