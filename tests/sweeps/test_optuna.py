"""A 2-trial Optuna study of tiny jobs through the ``hparams_search=optuna`` preset."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from .conftest import fast_args, job_dirs, read_summary, run_train


@pytest.mark.slow  # ~30 s
def test_two_trial_study(tone_folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    sweep = tmp_path / "study"
    args = fast_args(tone_folder, "hparams_search=optuna", "hydra.sweeper.n_trials=2")
    run_train([*args, f"hydra.sweep.dir={sweep}"], tmp_path)  # the preset sets multirun mode
    jobs = job_dirs(sweep)
    assert len(jobs) == 2
    summaries = [read_summary(job) for job in jobs]
    assert all(s["status"] == "completed" for s in summaries)
    for s in summaries:
        assert s["codebook_dim"] in (64, 128, 256) and 2 <= s["num_quantizers"] <= 4
        assert any(o.startswith("module.learning_rate=") for o in s["overrides"])
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best = min(s["val/recon_l1"] for s in summaries)
    assert math.isclose(results["best_value"], best, rel_tol=1e-6)
    assert set(results["best_params"]) == {
        "module.learning_rate",
        "model.codebook_dim",
        "model.num_quantizers",
    }
    assert (sweep / "report.md").is_file()
