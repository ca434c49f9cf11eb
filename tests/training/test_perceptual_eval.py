"""The end-of-training listening test (rvqvae/training/perceptual_eval.py) on the shared tiny
run: summary.json says what the run sounds like, bounded to the files and seconds asked for."""

from __future__ import annotations

import json

import pytest

from rvqvae.training.perceptual_eval import perceptual_node


def test_tiny_run_summary_says_what_it_sounds_like(tiny_run) -> None:
    summary = json.loads((tiny_run.run / "summary.json").read_text())
    assert summary["status"] == "completed"
    details = summary["perceptual"]
    assert details["files"] == 1 and details["audio_seconds"] == pytest.approx(1.0)
    assert "Griffin-Lim (4 iterations" in details["synthesis"]
    assert 1.0 <= summary["val/visqol"] < summary["val/visqol_ceiling"] <= 4.74
    assert summary["val/lsd"] > summary["val/lsd_ceiling"] > 0.0
    assert set(details["lsd_sizes"]) == {"256", "512", "1024", "2048", "4096", "8192"}
    assert details["eval_seconds"] > 0.0


@pytest.mark.parametrize(
    ("plain", "on"),
    [
        ({"evaluation": {"perceptual": {"max_files": 4, "max_seconds": 4.0}}}, True),
        ({"evaluation": {"perceptual": {"max_files": 0, "max_seconds": 4.0}}}, False),
        ({"evaluation": {"perceptual": None}}, False),
        ({}, False),  # a run saved before the option existed
    ],
)
def test_switch(plain: dict, on: bool) -> None:
    assert (perceptual_node(plain) is not None) is on
