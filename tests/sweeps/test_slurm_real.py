"""``hydra/launcher=slurm`` on a real one-node SLURM cluster (``scripts/slurm_local.sh``): jobs are
submitted with sbatch, run by slurmd under srun and awaited by submitit. A 2-job sweep, and a DDP
job whose 2 ranks are 2 srun tasks (Lightning's SLURM environment, gloo on CPU).

Without SLURM (not root, no apt-get, daemons that do not start) the tests skip with one line, or
fail with it when ``RVQVAE_REQUIRE_SLURM=1`` (CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rvqvae.training.distributed import RANK_STATE_ENV

from .conftest import REPO, fast_args, job_dirs, read_summary, run_train, write_tones
from .test_ddp import _assert_ranks_identical

# several processes each: one xdist worker runs them one after another (make test -n 2)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

SCRIPT = REPO / "scripts" / "slurm_local.sh"
TIMEOUT_S = 300  # per sweep; the jobs' own SLURM limit (timeout_min) is shorter
# CPU-only jobs small enough for a 2-core node, two of them side by side
CPU_JOBS = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=4",
    "hydra.launcher.signal_delay_s=30",
]


def _cluster_problem() -> str | None:
    """Start the local cluster if none is running; None when it is up, else why not."""
    if shutil.which("bash") is None:
        return "no SLURM cluster: no bash to run scripts/slurm_local.sh"
    try:
        proc = subprocess.run(
            ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return f"no SLURM cluster: scripts/slurm_local.sh did not finish in {TIMEOUT_S} s"
    if proc.returncode == 0:
        return None
    lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit {proc.returncode}"]
    return f"no SLURM cluster (scripts/slurm_local.sh: {lines[-1].removeprefix('slurm_local: ')})"


@pytest.fixture(scope="module")
def slurm() -> None:
    problem = _cluster_problem()
    if problem is None:
        return
    if os.environ.get("RVQVAE_REQUIRE_SLURM") == "1":
        pytest.fail(problem, pytrace=False)
    pytest.skip(problem)


def _logs(sweep: Path, proc: subprocess.CompletedProcess[str] | None = None) -> str:
    """Tails of the launcher's output and of every job's ``.submitit/*`` stderr."""
    parts = [f"--- launcher\n{(proc.stdout + proc.stderr)[-3000:]}"] if proc else []
    for err in sorted(sweep.glob(".submitit/*/*_log.err")):
        tail = "\n".join(err.read_text(errors="replace").splitlines()[-20:])
        parts.append(f"--- {err.relative_to(sweep)}\n{tail}")
    return "\n".join(parts) or f"no .submitit logs in {sweep}"


def _multirun(
    args: list[str], tmp_path: Path, env: dict[str, str | None] | None = None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``python -m rvqvae.train -m`` through SLURM into ``tmp_path/sweep``; on a timeout the
    sweep's SLURM jobs are cancelled and the test fails with their logs."""
    sweep = tmp_path / "sweep"
    cmd = ["-m", *CPU_JOBS, *args, f"hydra.sweep.dir={sweep}"]
    try:
        proc = run_train(cmd, tmp_path, check=False, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        ids = {p.name.split("_")[0] for p in sweep.glob(".submitit/*")}
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30, check=False)
        pytest.fail(f"sweep not done after {TIMEOUT_S} s\n{_logs(sweep)}")
    assert proc.returncode == 0, _logs(sweep, proc)
    return sweep, proc


def test_two_job_sweep_on_slurm(slurm: None, tmp_path: Path) -> None:
    audio = write_tones(tmp_path / "audio", 6)
    sweep, proc = _multirun(fast_args(audio, "model.num_quantizers=2,3"), tmp_path)
    assert "SlurmLauncher" in (sweep / "multirun.yaml").read_text()
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1"], _logs(sweep, proc)
    for job, levels in zip(jobs, (2, 3)):
        summary = read_summary(job)
        assert summary["status"] == "completed", _logs(sweep, proc)
        assert summary["num_quantizers"] == levels
    # one array job, one task each: submitit's result files written inside the SLURM jobs
    assert len(list(sweep.glob(".submitit/*_[01]/*_0_result.pkl"))) == 2, _logs(sweep, proc)
    report = (sweep / "report.md").read_text()  # the multirun-end callback
    assert report.count("| completed |") == 2 and (sweep / "report.html").is_file()


def test_ddp_job_as_two_srun_tasks(slurm: None, tmp_path: Path) -> None:
    audio = write_tones(tmp_path / "audio", 6)
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    args = fast_args(audio, *ddp, "hydra.launcher.tasks_per_node=2")
    sweep, proc = _multirun(args, tmp_path, env={RANK_STATE_ENV: "1"})
    (job,) = job_dirs(sweep)
    summary = read_summary(job)
    assert summary["status"] == "completed" and summary["epochs"] == 2, _logs(sweep, proc)
    # one SLURM job, two srun tasks, each one DDP rank of the same run folder
    assert len(list(sweep.glob(".submitit/*/*_[01]_log.out"))) == 2, _logs(sweep, proc)
    log = (job / "train.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    _assert_ranks_identical(job)  # codebooks (and every other synced tensor) equal on both ranks
