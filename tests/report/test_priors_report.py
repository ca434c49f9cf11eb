"""Prior runs in the local report: recognised, their own exact tables, plots and sample audio;
mixed folders (a real VQ-VAE training + hand-made prior folders) get both parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from rvqvae.report import collect_runs, write_local_report
from rvqvae.report.cli import main
from rvqvae.report.hydra_callback import ReportOnMultirunEnd
from rvqvae.report.priors import level_bits, prior_levels, recon_rate_points, unigram_ratio

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_prior_runs_are_recognised(prior_sweep: Path) -> None:
    runs = collect_runs([prior_sweep])
    assert [r.kind for r in runs] == ["prior"] * 5
    first, failed = runs[0], runs[4]
    assert first.label == "0: vqvae=09-00-00/0 seed=0"  # the VQ-VAE path, shortened
    assert prior_levels(first) == 3 and prior_levels(runs[2]) == 2
    assert [level_bits(first, k) for k in range(3)] == [300.0, 200.0, 100.0]
    assert unigram_ratio(first) == pytest.approx(0.75)
    assert first.best_epoch() == 2
    assert [p.name for p in first.preview_audio] == ["sample_0.wav", "sample_1.wav"]
    # no summary.json: still a prior (the vqvae= override), failed with the log's error line
    assert (failed.kind, failed.status, failed.error) == ("prior", "failed", "ValueError: boom")


def test_prior_values_fall_back_to_metrics_csv(prior_sweep: Path) -> None:
    (prior_sweep / "0" / "summary.json").write_text('{"kind": "prior", "status": "running"}')
    (run,) = [r for r in collect_runs([prior_sweep]) if r.name == "0"]
    assert run.status == "running"
    assert run.metric("val/bits_per_s") == 600.0  # last metrics.csv row
    assert [level_bits(run, k) for k in range(3)] == [300.0, 200.0, 100.0]
    assert run.best_epoch() == 2 and prior_levels(run) == 3
    assert run.metric("unigram_bits_per_s") == 800.0


def test_priors_table_exact_rows(prior_sweep: Path) -> None:
    md_path, html_path = write_local_report(collect_runs([prior_sweep]), prior_sweep, title="P")
    lines = _lines(md_path)
    assert lines[2].endswith("from 5 runs (4 completed, 1 failed).")
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## Priors",
        "## Priors across seeds",
        "## Prior validation curves",
        "## Reconstruction vs prior bits/s",
        "## Prior samples",
    ]  # no VQ-VAE sections for a folder of priors
    assert "Swept: `vqvae`, `seed`." in lines
    assert (
        "| run | vqvae | seed | VQ-VAE | VQ-VAE norm_l1 | val bits/s | L0 bits/s | L1 bits/s"
        " | L2 bits/s | raw bits/s | unigram bits/s | val/unigram | FD prior | FD unigram"
        " | FD recon | longest copy s | NN dist gen | NN dist val | train time | status |"
    ) in lines
    assert (
        "| 0: vqvae=09-00-00/0 seed=0 | 09-00-00/0 | 0 | 3x128 | 0.2500 | 600.0 | 300.0 | 200.0"
        " | 100.0 | 1008.0 | 800.0 | 0.750 | 12.500 | 30.250 | 5.125 | 0.75 | 1.500 | 1.250"
        " | 42.0s | completed |"
    ) in lines
    assert (
        "| 3: vqvae=09-00-00/1 seed=1 | 09-00-00/1 | 1 | 2x64 | 0.3500 | 420.0 | 260.0 | 160.0"
        " | — | 672.0 | 500.0 | 0.840 | 12.500 | 30.250 | 5.125 | 0.75 | 1.500 | 1.250"
        " | 42.0s | completed |"
    ) in lines
    assert (
        "| 4: vqvae=09-00-00/0 seed=2 | 09-00-00/0 | 2 |"
        + " — |" * 16
        + (" failed: ValueError: boom |")
        in lines
    )
    assert not (prior_sweep / "report_codebook.png").exists()
    for name in ("report_prior_curves.png", "report_prior_rate.png"):
        assert (prior_sweep / name).read_bytes().startswith(PNG_MAGIC)
        assert f"]({name})" in md_path.read_text()
    html = html_path.read_text(encoding="utf-8")
    assert '<tr class="failed">' in html and "<h2>Priors across seeds</h2>" in html


def test_priors_mean_std_across_seeds(prior_sweep: Path) -> None:
    md_path, _ = write_local_report(collect_runs([prior_sweep]), prior_sweep)
    lines = _lines(md_path)
    assert (
        "| vqvae | seeds | n | val bits/s | L0 bits/s | L1 bits/s | L2 bits/s | raw bits/s"
        " | unigram bits/s | val/unigram | FD prior | FD unigram | FD recon | longest copy s"
        " | NN dist gen | NN dist val | train_seconds |"
    ) in lines
    # A: seeds 0 and 1 completed (600, 640), seed 2 failed and left out of the mean
    assert (
        "| 09-00-00/0 | 0,1,2 | 2/3 | 620.0 ± 28.3 | 310.0 ± 14.1 | 205.0 ± 7.1 | 105.0 ± 7.1"
        " | 1008.0 ± 0.0 | 800.0 ± 0.0 | 0.775 ± 0.035 | 12.500 ± 0.000 | 30.250 ± 0.000"
        " | 5.125 ± 0.000 | 0.75 ± 0.00 | 1.500 ± 0.000 | 1.250 ± 0.000 | 42.0 ± 0.0 |"
    ) in lines
    assert (
        "| 09-00-00/1 | 0,1 | 2/2 | 410.0 ± 14.1 | 255.0 ± 7.1 | 155.0 ± 7.1 | — | 672.0 ± 0.0"
        " | 500.0 ± 0.0 | 0.820 ± 0.028 |"
    ) in "\n".join(lines)


def test_recon_vs_prior_rate_points(prior_sweep: Path, prior_summary_of) -> None:
    runs = collect_runs([prior_sweep])
    runs[3].summary["vqvae_norm_l1"] = None  # a VQ-VAE run without validation
    drawn, left_out = recon_rate_points(runs)
    assert [(p.label, p.bits_per_s, p.norm_l1, p.raw_bits_per_s) for p in drawn] == [
        ("3x128", 600.0, 0.25, 1008.0),
        ("3x128", 640.0, 0.25, 1008.0),
        ("2x64", 400.0, 0.35, 672.0),
    ]
    assert [r.name for r in left_out] == ["3", "4"]


def test_prior_sample_audio_links_and_players(prior_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    md_path, html_path = write_local_report(collect_runs([prior_sweep]), out)
    text = md_path.read_text()
    rel = "../multirun/2024-05-02/10-00-00/2/previews/final/sample_1.wav"
    assert f"  - clip 1: [sample_1]({rel}) · [sample_1.png]({rel[:-4]}.png)" in text
    assert "- **4: vqvae=09-00-00/0 seed=2**: no previews" in text
    html = html_path.read_text(encoding="utf-8")
    audio = re.findall(r'<audio [^>]*src="([^"]+)"', html)
    assert len(audio) == 4 * 2 and all((out / src).is_file() for src in audio)
    assert all(src.endswith(".wav") and "/previews/final/sample_" in src for src in audio)
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) == 2 + 4 * 2  # two plots + one spectrogram per sample, all embedded
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"""src=["']https?:""", html)


def test_mixed_folders_real_vqvae_and_priors(
    wandb_vqvae_run: Path, tmp_path: Path, make_prior_dir, prior_summary_of
) -> None:
    """A real (tiny) training's run folder next to two priors of that very VQ-VAE."""
    priors = tmp_path / "priors"
    for seed in (0, 1):
        overrides = [f"vqvae={wandb_vqvae_run}", f"seed={seed}"]
        run_dir = priors / str(seed)
        summary = prior_summary_of(run_dir, overrides, [300.0 + seed, 200.0, 100.0], seed=seed)
        make_prior_dir(run_dir, overrides, summary, bits=[[300.0, 200.0, 100.0]])
    out = tmp_path / "out"
    assert main([str(wandb_vqvae_run), str(priors), "--out", str(out)]) == 0
    lines = _lines(out / "report.md")
    assert "VQ-VAE runs: 1; prior runs: 2 (see Priors)." in lines[2]
    headings = [line[3:] for line in lines if line.startswith("## ")]
    assert headings == [
        "Runs",
        "Validation curves",
        "Rate-distortion",
        "Pareto front",
        "What it sounds like",  # the real run scored ViSQOL at its end (tests/conftest.py)
        "Pareto front by ear (ViSQOL)",
        "Codebook utilization",
        "Final previews",
        "Priors",
        "Priors across seeds",
        "Prior validation curves",
        "Reconstruction vs prior bits/s",
        "Prior samples",
    ]
    real = collect_runs([wandb_vqvae_run])[0]
    assert real.kind == "vqvae" and real.status == "completed"
    assert real.label.startswith("08-00-00: debug=fast dataset=folder")
    bitrate = f"{real.metric('bitrate_bps'):.0f}"
    vq_rows = [line for line in lines if line.startswith(f"| {real.label} |")]
    assert len(vq_rows) == 1 and vq_rows[0].endswith("| completed |")
    assert f"| {bitrate} |" in vq_rows[0]
    # the one completed VQ-VAE run is its own Pareto front
    norm = f"{real.metric('val/norm_l1'):.4f}"
    assert f"- **{real.label}**: {bitrate} bit/s, val/norm_l1 {norm}" in lines
    # priors: only the seed is swept; the shared VQ-VAE is a common override
    assert f"Swept: `seed`. Common overrides: `vqvae={wandb_vqvae_run}`." in lines
    assert "| 1: seed=1 | 1 | 3x128 | 0.2500 | 601.0 | 301.0 |" in "\n".join(lines)
    for name in ("report_pareto.png", "report_prior_rate.png", "report_codebook.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert "0_recon.wav" in (out / "report.md").read_text()  # the real run's previews


def test_hydra_callback_reports_a_prior_sweep(prior_sweep: Path) -> None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(prior_sweep)}}})
    ReportOnMultirunEnd().on_multirun_end(config)
    text = (prior_sweep / "report.md").read_text()
    assert "## Priors\n" in text and "## Runs\n" not in text
    assert "| 1: vqvae=09-00-00/0 seed=1 | 09-00-00/0 | 1 | 3x128 |" in text
