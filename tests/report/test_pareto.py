"""The Pareto front of bitrate_bps vs val/norm_l1: which runs are non-dominated, the figure,
and its place in report.md / report.html."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rvqvae.report import collect_runs, write_local_report
from rvqvae.report.pareto import pareto_front, points
from rvqvae.report.plots import plot_pareto

# (bitrate_bps, val/norm_l1, status) per job; job 7 logged no bitrate.
JOBS = [
    (672.0, 0.40, "completed"),  # 0: front (cheapest)
    (1008.0, 0.30, "completed"),  # 1: front
    (1008.0, 0.35, "completed"),  # 2: dominated by 1
    (1344.0, 0.30, "completed"),  # 3: dominated by 1 (same error, more bits)
    (1344.0, 0.20, "completed"),  # 4: front
    (1344.0, 0.20, "completed"),  # 5: front too (a tie is not domination)
    (672.0, 0.10, "failed"),  # 6: best numbers, but failed: drawn, never on the front
    (None, 0.05, "completed"),  # 7: no bitrate: not drawn
]


@pytest.fixture
def rd_sweep(tmp_path: Path, make_run_dir) -> Path:
    root = tmp_path / "rd"
    for i, (bitrate, norm, status) in enumerate(JOBS):
        overrides = [f"model.num_quantizers={i % 3 + 2}", f"model.codebook_dim={32 * (i + 1)}"]
        summary = {"status": status, "val/norm_l1": norm, "overrides": overrides}
        if status == "failed":
            summary["error"] = "RuntimeError: diverged"
        if bitrate is not None:
            summary["bitrate_bps"] = bitrate
        make_run_dir(root / str(i), overrides, summary=summary, previews=False)
    return root


def test_front_is_the_non_dominated_completed_runs(rd_sweep: Path) -> None:
    runs = collect_runs([rd_sweep])
    front = pareto_front(runs)
    assert [p.run.name for p in front] == ["0", "1", "4", "5"]
    assert [(p.x, p.y) for p in front] == [(672.0, 0.4), (1008.0, 0.3), (1344.0, 0.2)] + [
        (1344.0, 0.2)
    ]
    drawn = points(runs)
    assert [p.run.name for p in drawn] == ["0", "1", "2", "3", "4", "5", "6"]
    assert [p.eligible for p in drawn] == [True] * 6 + [False]
    assert pareto_front(runs, y_key="val/recon_l1") == []  # no run has that metric
    assert plot_pareto(runs).startswith(b"\x89PNG\r\n\x1a\n")


def test_report_names_the_front_and_embeds_the_figure(rd_sweep: Path) -> None:
    md_path, html_path = write_local_report(collect_runs([rd_sweep]), rd_sweep)
    text = md_path.read_text()
    section = text.split("## Pareto front\n\n", 1)[1].split("\n## ", 1)[0]
    assert section.splitlines() == [
        "Runs that no other completed run beats on both `bitrate_bps` and `val/norm_l1`"
        " (lower is better for both): 4 of 7 runs with both values.",
        "",
        "![Pareto front: final val/norm_l1 vs bitrate](report_pareto.png)",
        "",
        "- **0: model.num_quantizers=2 model.codebook_dim=32**: 672 bit/s, val/norm_l1 0.4000",
        "- **1: model.num_quantizers=3 model.codebook_dim=64**: 1008 bit/s, val/norm_l1 0.3000",
        "- **4: model.num_quantizers=3 model.codebook_dim=160**: 1344 bit/s, val/norm_l1 0.2000",
        "- **5: model.num_quantizers=4 model.codebook_dim=192**: 1344 bit/s, val/norm_l1 0.2000",
    ]
    assert (rd_sweep / "report_pareto.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # the section sits right after the rate-distortion plot
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[headings.index("Rate-distortion") + 1] == "Pareto front"
    html = html_path.read_text(encoding="utf-8")
    (img,) = re.findall(r'<img alt="Pareto front[^"]*" src="([^"]+)"', html)
    assert img.startswith("data:image/png;base64,")
    assert "<li><b>4: model.num_quantizers=3 model.codebook_dim=160</b>: 1344 bit/s" in html


def test_no_run_with_both_values(tmp_path: Path, make_run_dir) -> None:
    run_dir = make_run_dir(tmp_path / "0", ["seed=3"], previews=False)
    md_path, _ = write_local_report(collect_runs([run_dir]), tmp_path / "out")
    text = md_path.read_text()
    assert "No run has both `bitrate_bps` and `val/norm_l1`." in text
    assert (tmp_path / "out" / "report_pareto.png").is_file()
