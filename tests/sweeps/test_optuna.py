"""Tiny Optuna studies through the ``hparams_search=optuna`` (rate-distortion cost) and
``hparams_search=optuna_pareto`` (two objectives) presets."""

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
        assert any(o.startswith("optimizer.lr=") for o in s["overrides"])
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    # the preset minimises rd_cost = val/norm_l1 + rd_lambda x kbit/s, not val/norm_l1 alone
    for s in summaries:
        cost = s["val/norm_l1"] + 0.1 * s["bitrate_bps"] / 1000
        assert s["optimized_metric"] == "rd_cost" and math.isclose(s["rd_cost"], cost)
    best = min(s["rd_cost"] for s in summaries)
    assert math.isclose(results["best_value"], best, rel_tol=1e-6)
    assert set(results["best_params"]) == {
        "optimizer.lr",
        "model.codebook_dim",
        "model.num_quantizers",
    }
    assert (sweep / "report.md").is_file()


@pytest.mark.slow  # ~20 s
def test_pareto_study_front_and_report(tone_folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    sweep = tmp_path / "pareto"
    args = fast_args(
        tone_folder,
        "hparams_search=optuna_pareto",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.population_size=2",
    )
    run_train([*args, f"hydra.sweep.dir={sweep}"], tmp_path)
    summaries = [read_summary(job) for job in job_dirs(sweep)]
    assert len(summaries) == 2 and all(s["status"] == "completed" for s in summaries)
    points = [(s["val/norm_l1"], s["bitrate_bps"]) for s in summaries]

    def dominated(p: tuple[float, float]) -> bool:
        return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)

    front = sorted(p for p in points if not dominated(p))
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    found = sorted(tuple(sol["values"]) for sol in results["solutions"])
    assert len(found) == len(front)
    for (a0, a1), (b0, b1) in zip(found, front):
        assert math.isclose(a0, b0, rel_tol=1e-6) and math.isclose(a1, b1, rel_tol=1e-6)
    report = (sweep / "report.md").read_text()
    assert "Pareto" in report and (sweep / "report_pareto.png").stat().st_size > 1000
