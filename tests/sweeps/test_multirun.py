"""Multiruns end to end (subprocess, real Hydra, tiny audio): run folders, report, W&B offline,
a failing job (the joblib launcher runs for real in test_gpu_shared_launcher.py)."""

from __future__ import annotations

from pathlib import Path

from .conftest import fast_args, job_dirs, read_summary, run_train, wandb_records


def _report_rows(sweep_dir: Path) -> list[str]:
    lines = (sweep_dir / "report.md").read_text().splitlines()
    return [line for line in lines if line.startswith("| ") and line[2].isdigit()]


def test_multirun_jobs_own_folders_wandb_runs_and_a_failing_job(
    tone_folder: Path, tmp_path: Path
) -> None:
    """Three jobs in one sweep: two complete, each in its own folder with its own offline W&B
    run; the third fails on a bad value and loses neither of the others."""
    sweep = tmp_path / "sweep"
    args = fast_args(tone_folder, "model.num_quantizers=3,2,0", "logger=wandb")
    # W&B's cache and staging dirs unset: each job puts them in its own folder
    env = {"WANDB_MODE": "offline", "WANDB_CACHE_DIR": None, "WANDB_DATA_DIR": None}
    proc = run_train(["-m", *args, f"hydra.sweep.dir={sweep}"], tmp_path, env=env)
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1", "2"]
    run_ids = set()
    for job, levels in zip(jobs, (3, 2)):
        summary = read_summary(job)
        assert summary["status"] == "completed" and summary["num_quantizers"] == levels
        assert (job / "metrics.csv").is_file() and (job / "checkpoints" / "last.ckpt").is_file()
        assert (job / "previews" / "final" / "mels.png").is_file()
        # one offline W&B run per job: grouped by the sweep, named by the overrides, finished
        (log,) = job.glob("wandb/offline-run-*/run-*.wandb")
        records = list(wandb_records(log))
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert run.run_group == f"{sweep.parent.name}_{sweep.name}"
        assert f"model.num_quantizers={levels}" in run.display_name
        assert any(r.WhichOneof("record_type") == "exit" for r in records), "wandb.finish()"
        logged = {
            item.key or "/".join(item.nested_key)
            for r in records
            if r.WhichOneof("record_type") == "history"
            for item in r.history.item
        }
        assert "val/recon_l1" in logged
        for media in (f"val/codebook/level_{levels - 1}/usage", "previews/audio"):
            assert f"{media}/_type" in logged, media  # a histogram, audio
        summary_keys = {
            item.key or "/".join(item.nested_key)
            for r in records
            if r.WhichOneof("record_type") == "summary"
            for item in r.summary.update
        }
        assert {"best/val/recon_l1", "status"} <= summary_keys
        assert (job / "wandb-cache").is_dir()
        run_ids.add(run.run_id)
    assert len(run_ids) == 2
    failed = read_summary(jobs[2])
    assert failed["status"] == "failed"
    error = "ConfigError: model.num_quantizers must be an integer >= 1, got 0"
    assert failed["error"] == error
    assert error in proc.stdout + proc.stderr
    assert proc.stdout.count("best checkpoint:") == 2  # the completed jobs printed summaries
    rows = _report_rows(sweep)
    assert len(rows) == 3
    assert rows[0].startswith("| 0: model.num_quantizers=3 ") and rows[0].endswith("completed |")
    assert rows[1].startswith("| 1: model.num_quantizers=2 ") and rows[1].endswith("completed |")
    assert rows[2].startswith("| 2: model.num_quantizers=0 ")
    assert rows[2].endswith(f"| failed: {error} |")
