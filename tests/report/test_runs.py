"""Parsing run folders: summary, metrics.csv fallbacks, failed jobs, swept keys, seed groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rvqvae.report.aggregate import (
    fmt_duration,
    fmt_mean_std,
    mean_std,
    seed_groups,
    swept_keys,
)
from rvqvae.report.runs import ReportError, collect_runs, find_run_dirs


def test_collect_runs_reads_the_sweep(sweep: Path) -> None:
    runs = collect_runs([sweep])
    assert [r.name for r in runs] == ["0", "1", "2", "3"]
    assert [r.status for r in runs] == ["completed"] * 3 + ["failed"]
    first = runs[0]
    assert first.overrides == ["model.codebook_dim=64", "data=synth"]
    assert first.label == "0: model.codebook_dim=64"  # shared `data=synth` left out
    assert first.metric("val/recon_l1") == pytest.approx(0.31234)
    assert first.codebook_level(1) == {"utilization": 0.75, "perplexity": 40.0, "dead_codes": 20}
    assert first.series("val/recon_l1") == ([0.0, 1.0, 2.0], [0.5, 0.30001, 0.31234])
    assert [p.name for p in first.preview_audio][:2] == ["0_original.wav", "0_recon.wav"]
    assert len(first.preview_audio) == 8 and first.preview_image is not None
    failed = runs[3]
    assert failed.has_summary is False and failed.history == []
    assert failed.error == "RuntimeError: CUDA out of memory | tried to allocate 2 GiB"
    assert failed.metric("val/recon_l1") is None
    assert swept_keys(runs) == ["model.codebook_dim"]


def test_partial_summary_falls_back_to_metrics_csv(tmp_path: Path, make_run_dir) -> None:
    run_dir = make_run_dir(
        tmp_path / "run",
        ["model.num_quantizers=2"],
        val_recon=[0.5, 0.2, 0.4],
        summary={"status": "failed", "error": "ValueError: nan loss\n", "overrides": []},
    )
    run = collect_runs([run_dir])[0]
    assert run.status == "failed" and run.error == "ValueError: nan loss"
    assert run.metric("val/recon_l1") == 0.4
    assert run.metric("best/val/recon_l1") == 0.2
    assert run.best_epoch() == 1
    assert run.metric("bitrate_bps") == 672.0
    assert run.train_seconds() == 30.0
    assert run.codebook_level(0) == {"utilization": 0.5, "perplexity": None, "dead_codes": None}


def test_no_summary_without_log_says_no_summary(tmp_path: Path, make_run_dir) -> None:
    run_dir = make_run_dir(tmp_path / "0", ["seed=1"], previews=False)
    run = collect_runs([run_dir])[0]
    assert (run.status, run.error, run.overrides) == ("failed", "no summary", ["seed=1"])


def test_tolerates_missing_columns_and_empty_cells(tmp_path: Path, make_run_dir) -> None:
    run_dir = make_run_dir(tmp_path / "0", [], previews=False)
    (run_dir / "metrics.csv").write_text("epoch,val/recon_l1,lr\n0,0.5,\n1,,0.001\n")
    (run_dir / "summary.json").write_text(json.dumps({"status": "running"}))
    run = collect_runs([run_dir])[0]
    assert run.status == "running"
    assert run.series("val/recon_l1") == ([0.0], [0.5])
    assert run.metric("val/norm_l1") is None and run.num_levels() == 0


def test_values_from_summary_not_unresolved_config(tmp_path: Path, make_run_dir) -> None:
    for name, overrides in (("0", ["model.codebook_size=256"]), ("1", [])):
        summary = {"status": "completed", "codebook_size": 128} if name == "1" else None
        make_run_dir(tmp_path / name, overrides, summary=summary, previews=False)
    runs = collect_runs([tmp_path])
    assert [r.value_of("model.codebook_size") for r in runs] == ["256", "128"]
    assert runs[0].value_of("model.num_quantizers") == "2"  # from .hydra/config.yaml
    runs[1].summary.clear()
    assert runs[1].value_of("model.codebook_size") is None  # "${rvqvae.tier:...}" is hidden
    assert swept_keys(runs) == ["model.codebook_size"]


def test_missing_and_empty_paths_raise(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such file"):
        collect_runs([tmp_path / "nope"])
    with pytest.raises(ReportError, match="no run folders"):
        collect_runs([tmp_path])


def test_find_run_dirs_natural_order_and_nesting(tmp_path: Path, make_run_dir) -> None:
    for name in ("10", "2", "1"):
        make_run_dir(tmp_path / "day" / "t1" / name, [], previews=False)
    found = find_run_dirs(tmp_path / "day")
    assert [p.name for p in found] == ["1", "2", "10"]
    assert find_run_dirs(found[0]) == [found[0]]


def test_several_sweeps_get_unique_names(sweep: Path, seed_sweep: Path) -> None:
    runs = collect_runs([sweep, seed_sweep])
    assert runs[0].name == "12-00-00/0" and runs[-1].name == "seeds/5"
    assert len({r.name for r in runs}) == len(runs) == 10


def test_seed_groups_exact_mean_std(seed_sweep: Path) -> None:
    groups = seed_groups(collect_runs([seed_sweep]))
    assert [g.params for g in groups] == [
        {"model.num_quantizers": "2"},
        {"model.num_quantizers": "3"},
    ]
    assert [g.seeds for g in groups] == [["0", "1", "2"], ["0", "1", "2"]]
    finals = [[r.metric("val/recon_l1") for r in g.runs] for g in groups]
    assert mean_std(finals[0]) == pytest.approx((0.2, 0.1))
    assert mean_std(finals[1]) == pytest.approx((0.07, 0.02))
    assert fmt_mean_std(finals[0]) == "0.2000 ± 0.1000"


def test_no_seed_groups_without_a_seed_sweep(sweep: Path) -> None:
    assert seed_groups(collect_runs([sweep])) == []


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "—"), (42.04, "42.0s"), (65, "1m05s"), (3725, "1h02m")]
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert fmt_duration(seconds) == text
