"""What a sweep optimises (``optimized_metric``) and what quantizer dropout adds to a run."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from rvqvae import load_model
from rvqvae.training.job import objective_values
from rvqvae.training.validation import ConfigError
from tests.helpers import train_here

from .conftest import fast_args, read_summary


def test_quantize_dropout_run_logs_level_errors_and_rd_cost(
    tone_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    overrides = fast_args(
        tone_folder,
        run_dir,
        "model.quantize_dropout=true",
        "optimized_metric=rd_cost",
        "trainer.max_epochs=3",
        "module.level_metrics_interval=2",
    )
    train_here(overrides, run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["quantize_dropout"] is True
    # rd_cost prices the bitrate: 864 bit/s = 0.864 kbit/s at the default rd_lambda of 0.1
    assert summary["bitrate_bps"] == pytest.approx(48 * 3 * 6)
    assert summary["rd_cost"] == pytest.approx(summary["val/norm_l1"] + 0.1 * 0.864)
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    for k in (1, 2):  # fewer levels than the model has: every 2nd and the last epoch, summary
        assert rows[0][f"val/norm_l1_levels_{k}"] == ""  # not measured: empty, not stale
        assert float(rows[1][f"val/norm_l1_levels_{k}"]) > 0
        assert float(rows[-1][f"val/norm_l1_levels_{k}"]) > 0
        assert summary[f"val/norm_l1_levels_{k}"] == pytest.approx(
            float(rows[-1][f"val/norm_l1_levels_{k}"]), rel=1e-5
        )
    assert "val/norm_l1_levels_3" not in rows[-1]  # all levels: that is val/norm_l1
    model = load_model(run_dir / "checkpoints" / "best.ckpt")  # the option travels with it
    assert model.quantize_dropout and model.trained_levels(1)


def test_run_ended_by_its_time_budget_measures_the_levels_at_its_last_validation(
    tone_folder: Path, tmp_path: Path
) -> None:
    """A run stopped by ``trainer.max_time`` before the levels interval's first multiple still
    ends with per-level figures: its last validation measures them."""
    run_dir = tmp_path / "run"
    overrides = fast_args(
        tone_folder,
        run_dir,
        "trainer.max_epochs=1000",
        "trainer.max_time=00:00:00:02",
        "module.level_metrics_interval=1000",
        "callbacks.previews=null",
    )
    train_here(overrides, run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and 0 < summary["epochs"] < 1000
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert float(rows[-1]["val/norm_l1_levels_1"]) > 0  # the last epoch's validation
    assert summary["val/norm_l1_levels_1"] == pytest.approx(
        float(rows[-1]["val/norm_l1_levels_1"]), rel=1e-5
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimized_metric=val/nope", "optimized_metric 'val/nope' is not a summary key"),
        ("optimized_metric=val/norm_l1_levels_3", "val/norm_l1_levels_K (K < num_quantizers)"),
        ("rd_lambda=-1", "rd_lambda"),
    ],
)
def test_bad_objective_stops_before_training(
    tone_folder: Path, tmp_path: Path, override: str, message: str
) -> None:
    """The job stops on the composed config with a one-line ConfigError (the CLI's exit code 1
    and no traceback for a ConfigError: tests/training/test_train.py)."""
    run_dir = tmp_path / "bad"
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        train_here(fast_args(tone_folder, run_dir, override), run_dir)
    assert "\n" not in str(err.value)
    summary = read_summary(run_dir)
    assert summary["status"] == "failed" and message in summary["error"]
    assert not (run_dir / "checkpoints").exists()


def test_objective_values_from_a_summary() -> None:
    summary = {"val/norm_l1": 0.3, "bitrate_bps": 1008.0, "rd_cost": None}
    assert objective_values(summary, "val/norm_l1") == 0.3
    assert objective_values(summary, ["val/norm_l1", "bitrate_bps"]) == [0.3, 1008.0]
    assert objective_values(summary, "rd_cost") == math.inf  # no number: the worst value
    assert objective_values(None, ["val/norm_l1", "bitrate_bps"]) == [math.inf, math.inf]
    assert objective_values(summary, None) is None
