"""The local report: exact table values, self-contained HTML, plots, seed aggregation."""

from __future__ import annotations

import re
from pathlib import Path

from rvqvae.report import collect_runs, write_local_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_markdown_table_exact_rows(sweep: Path) -> None:
    md_path, html_path = write_local_report(collect_runs([sweep]), sweep, title="Dims")
    assert (md_path, html_path) == (sweep / "report.md", sweep / "report.html")
    lines = _lines(md_path)
    assert lines[0] == "# Dims"
    assert (
        "| run | model.codebook_dim | bitrate_bps | val/recon_l1 | best val/recon_l1 | best_epoch"
        " | val/norm_l1 | L0 util/ppl/dead | L1 util/ppl/dead | train time | status |"
    ) in lines
    expected = [
        "| 0: model.codebook_dim=64 | 64 | 1008 | 0.3123 | 0.3000 | 1 | 0.1555"
        " | 0.82/51.3/12 | 0.75/40.0/20 | 1m05s | completed |",
        "| 1: model.codebook_dim=128 | 128 | 1008 | 0.2500 | 0.2400 | 1 | 0.1250"
        " | 0.82/51.3/12 | 0.75/40.0/20 | 42.0s | completed |",
        "| 2: model.codebook_dim=256 | 256 | 1008 | 0.2000 | 0.1900 | 1 | 0.1000"
        " | 0.82/51.3/12 | 0.75/40.0/20 | 1h02m | completed |",
        "| 3: model.codebook_dim=512 | 512 | — | — | — | — | — | — | — | —"
        " | failed: RuntimeError: CUDA out of memory \\| tried to allocate 2 GiB |",
    ]
    for row in expected:
        assert row in lines
    text = md_path.read_text()
    assert "Common overrides: `data=synth`." in text
    assert "4 runs (3 completed, 1 failed)" in text
    assert "Across seeds" not in text
    for name in ("report_curves.png", "report_rate_distortion.png", "report_codebook.png"):
        assert f"]({name})" in text
        assert (sweep / name).read_bytes().startswith(PNG_MAGIC)
    assert "[0_recon](0/previews/final/0_recon.wav)" in text
    assert "- **3: model.codebook_dim=512**: no previews" in text


def test_html_is_self_contained(sweep: Path) -> None:
    _, html_path = write_local_report(collect_runs([sweep]), sweep)
    html = html_path.read_text(encoding="utf-8")
    assert not re.search(r"""src=["']https?:""", html)
    assert "<link" not in html and "<script" not in html
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) == 4 + 3  # four plots (incl. the Pareto front) + three runs' mels.png
    assert all(src.startswith("data:image/png;base64,") for src in images)
    audio = re.findall(r'<audio [^>]*src="([^"]+)"', html)
    assert len(audio) == 3 * 8
    assert "0/previews/final/0_original.wav" in audio
    assert all((html_path.parent / src).is_file() for src in audio)
    assert "failed: RuntimeError: CUDA out of memory | tried to allocate 2 GiB" in html
    assert '<tr class="failed">' in html


def test_out_dir_elsewhere_links_relative_audio(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "rep"
    md_path, html_path = write_local_report(collect_runs([sweep]), out)
    assert md_path.parent == out and (out / "report_codebook.png").is_file()
    rel = "../../multirun/2024-05-01/12-00-00/0/previews/final/0_recon.wav"
    assert f"]({rel})" in md_path.read_text()
    assert (out / rel).is_file()


def test_seed_table_mean_std(seed_sweep: Path) -> None:
    md_path, _ = write_local_report(collect_runs([seed_sweep]), seed_sweep)
    lines = _lines(md_path)
    assert "## Across seeds" in lines
    assert (
        "| model.num_quantizers | seeds | n | bitrate_bps | val/recon_l1 | best val/recon_l1"
        " | val/norm_l1 | train_seconds | L0 utilization | L1 utilization | L2 utilization |"
    ) in lines
    assert (
        "| 2 | 0,1,2 | 3/3 | 672 ± 0 | 0.2000 ± 0.1000 | 0.2900 ± 0.0000 | 0.1500 ± 0.0000"
        " | 65.0 ± 0.0 | 0.82 ± 0.00 | 0.75 ± 0.00 | — |"
    ) in lines
    assert (
        "| 3 | 0,1,2 | 3/3 | 1008 ± 0 | 0.0700 ± 0.0200 | 0.2900 ± 0.0000 | 0.1500 ± 0.0000"
        " | 65.0 ± 0.0 | 0.82 ± 0.00 | 0.75 ± 0.00 | 0.68 ± 0.00 |"
    ) in lines


def test_failed_seed_is_left_out_of_the_mean(seed_sweep: Path) -> None:
    summary = seed_sweep / "2" / "summary.json"
    summary.write_text('{"status": "failed", "error": "boom", "overrides": []}')
    md_path, _ = write_local_report(collect_runs([seed_sweep]), seed_sweep)
    assert "| 2 | 0,1,2 | 2/3 | 672 ± 0 | 0.1500 ± 0.0707 |" in md_path.read_text()


def test_report_with_no_metrics_at_all(tmp_path: Path, make_run_dir) -> None:
    run_dir = make_run_dir(tmp_path / "0", ["seed=3"], previews=False)
    md_path, html_path = write_local_report(collect_runs([run_dir]), tmp_path / "out")
    assert "| 0: seed=3 | — | — | — | — | — | — | failed: no summary |" in _lines(md_path)
    assert "Common overrides" not in md_path.read_text()
    assert html_path.is_file()
