"""Sweeps optimise ViSQOL the right way round: ``val/visqol`` is maximised (the Optuna presets'
direction follows ``optimized_metric``), a failed job reports the worst value, and a perceptual
objective without the perceptual evaluation is refused in one line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rvqvae.training.job import objective_values
from rvqvae.training.objective import direction
from rvqvae.training.validation import ConfigError, check_objective
from tests.helpers import compose_train


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["hparams_search=optuna", "optimized_metric=val/visqol"], "maximize"),
        (["hparams_search=optuna_pareto"], ["minimize", "minimize"]),
        (
            ["hparams_search=optuna_pareto", "optimized_metric=[val/visqol,bitrate_bps]"],
            ["maximize", "minimize"],
        ),
    ],
)
def test_preset_direction_follows_the_objective(
    overrides: list[str], expected: object, tmp_path: Path
) -> None:
    cfg = compose_train(overrides, tmp_path)
    got = cfg.hydra.sweeper.direction
    assert (list(got) if not isinstance(got, str) else got) == expected


def test_failed_job_reports_the_worst_value() -> None:
    assert direction("val/lsd") == "minimize" and direction(["val/visqol"]) == ["maximize"]
    assert objective_values(None, ["val/visqol", "val/norm_l1"]) == [-math.inf, math.inf]
    assert objective_values({"val/visqol": 3.1}, "val/visqol") == 3.1


def test_perceptual_objective_needs_the_evaluation() -> None:
    check_objective("val/visqol", 3, perceptual=True)
    with pytest.raises(ConfigError, match="needs evaluation.perceptual on"):
        check_objective(["val/visqol", "bitrate_bps"], 3, perceptual=False)
