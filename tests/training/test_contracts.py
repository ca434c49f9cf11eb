"""The contracts ../shared/ARCHITECTURE.md names, checked on the session's real tiny run: the run
folder's layout, summary.json's keys and the bitrate formula."""

from __future__ import annotations

import math

from tests.helpers import TinyRun

SUMMARY_KEYS = {
    "status",
    "val/recon_l1",
    "val/norm_l1",
    "codebook",
    "bitrate_bps",
    "num_quantizers",
    "codebook_size",
    "codebook_dim",
    "file_count",
    "epochs",
    "train_seconds",
    "train_samples_per_s",
    "overrides",
}


def test_run_folder_layout(tiny_run: TinyRun) -> None:
    run = tiny_run.run
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "previews").is_dir() and (run / "metrics.csv").is_file()
    assert (run / "summary.json").is_file()


def test_summary_keys_and_bitrate(tiny_run: TinyRun) -> None:
    summary = tiny_run.summary
    assert SUMMARY_KEYS <= summary.keys(), SUMMARY_KEYS - summary.keys()
    assert summary["status"] == "completed"
    levels = summary["num_quantizers"]
    assert set(summary["codebook"]) == {f"level_{k}" for k in range(levels)}
    for health in summary["codebook"].values():
        assert {"utilization", "perplexity", "dead_codes"} <= health.keys()
    # positions per second x levels x log2(codebook size); 48 positions per 1 s chunk
    expected = 48 * levels * math.log2(summary["codebook_size"])
    assert math.isclose(summary["bitrate_bps"], expected, rel_tol=1e-6)
