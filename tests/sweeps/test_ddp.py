"""Lightning DDP on CPU (gloo, 2 processes) through ``python -m rvqvae.train trainer=ddp``:
identical codebooks and weights on every rank, one run folder written by rank 0 only, the same
summary.json keys and metrics.csv columns as a single-process run."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch

from rvqvae.training.checkpoint import read_checkpoint
from rvqvae.training.distributed import RANK_STATE_ENV

from .conftest import fast_args, job_dirs, read_summary, run_train

DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
# BatchNorm running statistics are per rank on CPU (SyncBatchNorm is GPU-only; DDP re-broadcasts
# rank 0's buffers before every training step); all other state must match exactly.
PER_RANK = ("running_mean", "running_var", "num_batches_tracked")

# several processes each: one xdist worker runs them one after another (make test -n 2)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]


def _sha(tensor: torch.Tensor) -> str:
    data = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return hashlib.sha256(data).hexdigest()


def _columns(run_dir: Path) -> list[str]:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return next(csv.reader(f))


def _assert_ranks_identical(run_dir: Path) -> None:
    ranks = [json.loads((run_dir / "rank_state" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    shared = [k for k in ranks[0] if not k.endswith(PER_RANK)]
    codebook = [k for k in shared if "_codebook." in k]
    assert any(k.endswith("_codebook.embed") for k in codebook)
    assert any(k.endswith("_codebook.cluster_size") for k in codebook)
    differ = [k for k in shared if ranks[0][k] != ranks[1][k]]
    assert not differ, f"state differs between ranks: {differ}"
    # rank 0's final state is what the checkpoint of the final epoch holds (not last.ckpt: with
    # Lightning >= 2.2 it is only rewritten when best.ckpt is, see the report)
    final = max((run_dir / "checkpoints").glob("epoch*.ckpt"))
    state = read_checkpoint(final)["state_dict"]
    assert {k: _sha(v) for k, v in state.items() if k in shared} == {k: ranks[0][k] for k in shared}


def _assert_rank_figures_equal(run_dir: Path) -> None:
    """The training figures are means over both ranks' batches: each rank logs the same value."""
    figures = [
        json.loads((run_dir / "rank_state" / f"rank{r}_metrics.json").read_text()) for r in (0, 1)
    ]
    train_keys = [k for k in figures[0] if k.startswith("train/") and k.endswith("_epoch")]
    assert "train/loss_epoch" in train_keys
    assert {k: figures[0][k] for k in train_keys} == {k: figures[1][k] for k in train_keys}
    assert figures[0]["val/norm_l1"] == figures[1]["val/norm_l1"]


def test_ddp_inside_a_multirun_matches_single_process_in_the_job_folders(
    tone_folder: Path, tmp_path: Path, fast_wandb_run: dict
) -> None:
    """Two DDP jobs of a multirun, each against the single-process reference (the session's
    debug=fast run on 6 tones, tests/conftest.py): the same summary keys and metrics.csv columns,
    the run folder the job's own. The decay is fitted to a time budget: each rank has its own
    clock (rank 1's is set 3 s ahead here, a sitecustomize patch), so the share of the budget
    spent, and so the learning rate, must come from rank 0, or the ranks' weights part.
    Job 0 ends with identical state on both ranks. Job 1 is the control for that check: the
    patch forces sync_codebook off for its codebook_dim (32), so each rank's EMA update uses only
    its own batch and the codebooks differ, while the weights (gradients are still synced) do
    not. (A DDP run ended by its epochs is tests/sweeps/test_slurm_real.py's.)"""
    sweep = tmp_path / "sweep"
    patch = tmp_path / "patch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(
        "from lightning.pytorch.callbacks import timer\n"
        "_start = timer.Timer.on_train_start\n"
        "def _ahead(self, trainer, module):\n"
        "    _start(self, trainer, module)\n"
        "    if trainer.global_rank == 1:\n"
        "        self._start_time[timer.RunningStage.TRAINING] -= 3.0\n"
        "timer.Timer.on_train_start = _ahead\n"
        "import vector_quantize_pytorch as vq\n"
        "_init = vq.ResidualVQ.__init__\n"
        "def _no_sync_at_32(self, *a, **k):\n"
        "    if k.get('dim') == 32:\n"
        "        k['sync_codebook'] = False\n"
        "    _init(self, *a, **k)\n"
        "vq.ResidualVQ.__init__ = _no_sync_at_32\n"
    )
    # the clock, not max_epochs, ends each job: the time share sets the rate from the 2nd step
    budget = ["scheduler=cosine_time", "trainer.max_time=00:00:00:04", "trainer.max_epochs=1000"]
    args = fast_args(tone_folder, *DDP, *budget, "model.codebook_dim=16,32")
    env = {RANK_STATE_ENV: "1", "PYTHONPATH": str(patch)}
    proc = run_train(["-m", *args, f"hydra.sweep.dir={sweep}"], tmp_path, env=env)
    assert proc.returncode == 0
    assert "sync_dist" not in proc.stdout + proc.stderr  # Lightning has nothing to warn about
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1"]
    single = fast_wandb_run["run"]
    reference = read_summary(single)
    # the reference also ran the end-of-run listening test (tests/conftest.py PERCEPTUAL_ON),
    # which debug=fast leaves off here
    perceptual = {"perceptual", "val/visqol", "val/visqol_ceiling", "val/lsd", "val/lsd_ceiling"}
    for job, dim in zip(jobs, (16, 32)):
        summary = read_summary(job)
        assert summary["status"] == "completed" and summary["codebook_dim"] == dim
        assert summary.keys() == reference.keys() - perceptual
        assert summary["codebook"].keys() == reference["codebook"].keys()
        assert summary["num_quantizers"] == reference["num_quantizers"]
        assert _columns(job) == _columns(single)
        # one run folder per job: the rank-1 child wrote its log there and nowhere else
        assert (job / "train_ddp_process_1.log").is_file()
        assert "sync_batchnorm off" in (job / "train.log").read_text()
        _assert_rank_figures_equal(job)
    _assert_ranks_identical(jobs[0])
    ranks = [json.loads((jobs[1] / "rank_state" / f"rank{r}.json").read_text()) for r in (0, 1)]
    differ = {k for k in ranks[0] if ranks[0][k] != ranks[1][k]}
    assert any(k.endswith("_codebook.embed") for k in differ), differ
    assert not any(k.endswith((".weight", ".bias")) for k in differ)  # gradients still synced
    assert not (tmp_path / "outputs").exists()  # no stray runs of the DDP children
    assert len([p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2
