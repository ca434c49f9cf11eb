"""ViSQOL in the local report: runs-table columns, which metric hears what, ViSQOL vs bitrate
and its Pareto front (higher ViSQOL wins); runs without it get none of these."""

from __future__ import annotations

from pathlib import Path

from rvqvae.report import collect_runs, write_local_report
from rvqvae.report.pareto import PERCEPTUAL_KEY, pareto_front

# (bitrate_bps, val/norm_l1, val/visqol) per completed job
JOBS = [
    (672.0, 0.40, 2.5),  # 0: front by ear (cheapest)
    (1008.0, 0.30, 3.0),  # 1: front by ear
    (1008.0, 0.25, 2.8),  # 2: best norm_l1 at 1008 bit/s, worse by ear than 1: dominated by 1
    (1344.0, 0.20, 3.4),  # 3: front by ear
]


def sweep(tmp_path: Path, make_run_dir, visqol: bool) -> Path:
    root = tmp_path / ("heard" if visqol else "silent")
    for i, (bitrate, norm, mos) in enumerate(JOBS):
        overrides = [f"model.codebook_size={32 * 2**i}"]
        summary = {"status": "completed", "bitrate_bps": bitrate, "val/norm_l1": norm}
        if visqol:
            summary.update({"val/visqol": mos, "val/visqol_ceiling": 4.7, "val/lsd": 3 - mos / 2})
        make_run_dir(root / str(i), overrides, summary=summary, previews=False)
    return root


def test_visqol_front_is_maximised(tmp_path: Path, make_run_dir) -> None:
    runs = collect_runs([sweep(tmp_path, make_run_dir, visqol=True)])
    assert [p.run.name for p in pareto_front(runs, y_key=PERCEPTUAL_KEY)] == ["0", "1", "3"]
    assert [p.run.name for p in pareto_front(runs)] == ["0", "2", "3"]  # norm_l1: minimised


def test_report_says_what_each_run_sounds_like(tmp_path: Path, make_run_dir) -> None:
    root = sweep(tmp_path, make_run_dir, visqol=True)
    md_path, _ = write_local_report(collect_runs([root]), root)
    text = md_path.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| run "))
    assert "val/visqol | val/visqol_ceiling | val/lsd" in header
    assert "| 3.400 | 4.700 | 1.300 |" in text
    section = text.split("## What it sounds like\n\n", 1)[1].split("\n## ", 1)[0]
    assert "Which metric hears what" in section and "blind to phase" in section
    front = text.split("## Pareto front by ear (ViSQOL)\n\n", 1)[1].split("\n## ", 1)[0]
    assert "3 of 4 runs" in front and "1344 bit/s, val/visqol 3.4000" in front
    for png in ("report_rate_visqol.png", "report_pareto_visqol.png"):
        assert (root / png).read_bytes().startswith(b"\x89PNG")


def test_runs_without_visqol_get_no_perceptual_sections(tmp_path: Path, make_run_dir) -> None:
    root = sweep(tmp_path, make_run_dir, visqol=False)
    md_path, _ = write_local_report(collect_runs([root]), root)
    text = md_path.read_text()
    assert "val/visqol" not in text and "What it sounds like" not in text
