"""Issue 12 fault 3 (run side): a run whose validation figures are not finite ends failed."""

from __future__ import annotations

import math
from pathlib import Path

from tests.training.conftest import fast_args, read_summary, run_train


def test_diverged_run_ends_failed_with_a_line(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # a learning rate this large overflows the weights in the first steps: val/recon_l1 is NaN
    args = fast_args(
        tone_folder,
        run_dir,
        "trainer.max_epochs=1",
        "optimizer.lr=1e30",
        "trainer.gradient_clip_val=null",
    )
    proc = run_train(args, tmp_path, check=False)
    assert proc.returncode == 1
    summary = read_summary(run_dir)
    assert not math.isfinite(summary["val/recon_l1"])  # the figures are kept, and...
    assert summary["status"] == "failed"  # ...the run does not pass for a finished one
    assert "not finite" in summary["error"] and "val/recon_l1" in summary["error"]
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "not finite" in errors[0]
