"""A real few-step ``train_vocoder`` run on the tiny VQ-VAE: run folder, checkpoint, install."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest

from rvqvae.vocoder.checkpoint import installed_vocoder, load_vocoder


def test_run_folder_summary_and_metrics(tiny_vocoder) -> None:
    run, summary = tiny_vocoder.run, tiny_vocoder.summary
    assert summary["status"] == "completed"
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == summary["epochs"] == 2
    assert all(float(r["val/loss"]) > 0 for r in rows)
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert summary["train_files"] >= 1 and summary["val_files"] >= 1


def test_best_checkpoint_carries_settings_and_is_installed(tiny_vocoder) -> None:
    best = load_vocoder(tiny_vocoder.run / "checkpoints" / "best.ckpt")
    installed = installed_vocoder(tiny_vocoder.vqvae / "checkpoints" / "best.ckpt")
    assert installed is not None and tiny_vocoder.summary["installed"] == str(installed)
    again = load_vocoder(installed)
    assert again.settings == best.settings and again.input == tiny_vocoder.summary["input"]
    for (name, a), (_, b) in zip(
        best.generator.state_dict().items(), again.generator.state_dict().items()
    ):
        assert a.equal(b), name


def test_a_second_install_says_it_replaces_the_first(tiny_vocoder, tmp_path, caplog) -> None:
    """Installing into a run that has a vocoder replaces it, and the console line says so."""
    from rvqvae.vocoder_training.run import install_vocoder

    best = tiny_vocoder.run / "checkpoints" / "best.ckpt"
    target = tmp_path / "vqvae_run" / "vocoder" / "vocoder.ckpt"
    with caplog.at_level(logging.INFO, logger="rvqvae.vocoder_training.run"):
        assert install_vocoder(best, target) == target
        first = caplog.messages[-1]
        install_vocoder(best, target)
        second = caplog.messages[-1]
    assert "installed" in first and "replacing" not in first
    assert "replacing the one installed before" in second and "vocoder.install=false" in second
    assert load_vocoder(target).settings == load_vocoder(best).settings


def test_summary_compares_griffin_lim_vocoder_and_ideal_phase(tiny_vocoder) -> None:
    synthesis = tiny_vocoder.summary["synthesis"]
    for source in ("from_mel", "from_recon"):
        rows = synthesis[source]
        assert set(rows) == {"griffinlim", "vocoder", "ideal_phase"}
        for row in rows.values():
            assert set(row["lsd"]) == {str(n) for n in synthesis["lsd_sizes"]}
            assert all(v >= 0 for v in row["lsd"].values())
            assert 1.0 <= row["visqol"] <= 4.75  # ViSQOL's MOS-LQO scale
        assert rows["vocoder"]["x_realtime"] > 0
        assert set(synthesis["gap_closed"][source]) == {"vocoder"}


def test_side_by_side_previews_and_report_section(tiny_vocoder, tmp_path) -> None:
    """The run writes original | Griffin-Lim | vocoder WAVs of the same validation file, and the
    local report shows the run under Vocoders (not as a VQ-VAE) with its own figures."""
    import soundfile as sf

    from rvqvae.report.local import write_local_report
    from rvqvae.report.runs import collect_runs

    folder = tiny_vocoder.run / "previews" / "final"
    audio = {k: sf.read(folder / f"0_{k}.wav") for k in ("original", "griffinlim", "vocoder")}
    lengths = {len(a) for a, _ in audio.values()}
    assert len(lengths) == 1 and lengths.pop() > 0
    assert not np.array_equal(audio["griffinlim"][0], audio["vocoder"][0])
    summary = tiny_vocoder.summary
    assert summary["synthesis/recon/vocoder/lsd_256"] == pytest.approx(
        summary["synthesis"]["from_recon"]["vocoder"]["lsd"]["256"]
    )
    runs = collect_runs([tiny_vocoder.run])
    assert [r.kind for r in runs] == ["vocoder"]
    md, _ = write_local_report(runs, tmp_path / "report")
    text = md.read_text()
    assert "## Vocoders" in text and "## Runs" not in text
    assert f"{summary['synthesis/recon/vocoder/lsd_256']:.3f}" in text
    assert "0_vocoder" in text and "0_griffinlim" in text


def test_adversarial_stage_trains_on_tiny_data(tiny_vocoder, tmp_path) -> None:
    from tests.helpers import TINY_VOCODER, train_here

    overrides = [
        f"vqvae={tiny_vocoder.vqvae / 'checkpoints' / 'best.ckpt'}",
        *TINY_VOCODER,
        "vocoder.adversarial=true",
        "vocoder.gan.channels=2",
        "vocoder.gan.periods=[2,3]",
        "vocoder.gan.fft_sizes=[256]",
        "vocoder.install=false",
        "trainer.max_epochs=1",
        "evaluation.max_files=0",
    ]
    summary = train_here(overrides, tmp_path / "gan", tiny_vocoder.cache, job="train_vocoder")
    assert summary["status"] == "completed" and summary["adversarial"] is True
    assert summary["global_step"] >= 2  # generator and discriminator steps both counted
    rows = list(csv.DictReader((tmp_path / "gan" / "metrics.csv").open()))
    d_loss = [k for k in rows[-1] if k.startswith("train/d_loss")]
    assert d_loss and float(rows[-1][d_loss[0]]) > 0 and float(rows[-1]["val/loss"]) > 0
    assert summary["installed"] is None
    assert load_vocoder(tmp_path / "gan" / "checkpoints" / "best.ckpt").input == summary["input"]
