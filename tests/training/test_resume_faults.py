"""Issue 12 faults 4-6: resume loads safely, restores the run's settings in its own folder, and
cleans up after a kill."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from rvqvae.training.checkpoint import CheckpointError
from rvqvae.training.checkpoint_io import AtomicCheckpointIO
from tests.training.conftest import fast_args, read_summary, run_train, train_here

UNSAFE_ENV = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}


class _RunsCode:
    """Unpickling this writes a marker file: what a malicious checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _malicious_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "epoch": 0, "payload": _RunsCode(marker)}, path)
    return path


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ERROR" in line]


def test_lightning_load_path_refuses_pickled_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    ckpt = _malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(CheckpointError) as err:
        AtomicCheckpointIO().load_checkpoint(ckpt, weights_only=False)
    message = str(err.value)
    assert str(ckpt) in message and "\n" not in message
    assert "weights_only=False" not in message and "False" not in message
    assert not marker.exists()


def test_resume_never_runs_pickled_code(tone_folder: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ckpt = _malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    args = fast_args(tone_folder, tmp_path / "run", f"resume={ckpt}")
    proc = run_train(args, tmp_path, check=False, env=UNSAFE_ENV)
    assert proc.returncode == 1
    assert not marker.exists(), "the checkpoint's pickled code ran"
    (line,) = _error_lines(proc.stdout + proc.stderr)
    assert str(ckpt) in line and "weights_only=False" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def _metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_resume_run_dir_restores_settings_in_the_same_folder(
    tone_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = fast_args(tone_folder, run_dir, "model.num_quantizers=2", "trainer.max_epochs=1")
    train_here(args, run_dir)  # the first part in-process: only the resume is the CLI's
    first, first_rows = read_summary(run_dir), _metrics(run_dir)
    assert first["num_quantizers"] == 2 and [r["epoch"] for r in first_rows] == ["0"]

    # only resume= and a longer schedule: the run's own settings come back, in its own folder
    run_train([f"resume={run_dir}", "trainer.max_epochs=3"], tmp_path)
    assert not (tmp_path / "outputs").exists(), "the resume made a new run folder"
    summary, rows = read_summary(run_dir), _metrics(run_dir)
    assert summary["status"] == "completed" and summary["num_quantizers"] == 2
    assert summary["epochs"] == 3 and [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert rows[0] == {k: first_rows[0].get(k, "") for k in rows[0]}  # first part kept
    assert summary["train_seconds"] > first["train_seconds"]
    assert summary["overrides"] == first["overrides"]
    assert "model.num_quantizers=2" in (run_dir / ".hydra" / "overrides.yaml").read_text()

    # what the model is cannot change on resume: one line, and the finished run is untouched
    proc = run_train(
        [f"resume={run_dir}", "trainer.max_epochs=4", "model.num_quantizers=3"],
        tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = _error_lines(proc.stdout + proc.stderr)
    assert "model.num_quantizers=3" in line and "cannot change on resume" in line
    assert read_summary(run_dir) == summary
    # a whole model group swapped: the same refusal, in this process (one CLI call suffices
    # for the printing); the finished run is untouched
    with pytest.raises(ValueError, match="cannot change on resume") as err:
        train_here([f"resume={run_dir}", "trainer.max_epochs=4", "model=rvq4"], tmp_path / "x")
    assert "model=rvq4" in str(err.value) and "\n" not in str(err.value).strip()
    assert read_summary(run_dir) == summary


def test_kill_leftovers_removed_and_empty_auto_resume_said(
    tone_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    stale = [run_dir / "checkpoints" / ".best.ckpt.x1y2.tmp", run_dir / ".metrics.csv.z3.tmp"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a checkpoint")
    proc = run_train(
        fast_args(tone_folder, run_dir, "trainer.max_epochs=1", "resume=auto"), tmp_path
    )
    assert not any(p.exists() for p in stale)
    said = [
        line for line in (proc.stdout + proc.stderr).splitlines() if "nothing to resume" in line
    ]
    assert len(said) == 1 and "resume=auto" in said[0]
    assert read_summary(run_dir)["status"] == "completed"
