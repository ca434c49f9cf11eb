"""End-to-end training runs on tiny real audio: the real composed config and ``train(cfg)`` in
this process (real Lightning), and ``python -m rvqvae.train`` subprocesses only for what the CLI
itself does (exit codes, one-line errors)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from hydra.errors import InstantiationException

from rvqvae import load_model
from rvqvae.training.checkpoint import read_checkpoint
from rvqvae.training.run import effective_dead_code_threshold
from tests.helpers import train_here

from .conftest import fast_args, read_summary, run_train


def _here(folder: Path, run_dir: Path, *extra: str) -> dict:
    """A ``fast_args`` run trained in this process."""
    return train_here(fast_args(folder, run_dir, *extra), run_dir)


def test_debug_fast_run_writes_everything(fast_wandb_run: dict) -> None:
    run_dir, tone_folder = fast_wandb_run["run"], fast_wandb_run["audio"]
    summary = read_summary(run_dir)
    assert summary["status"] == "completed", summary
    assert fast_wandb_run["summary"]["val/recon_l1"] == summary["val/recon_l1"]
    assert summary["epochs"] == 2
    assert summary["file_count"] == 6
    assert summary["codebook_size"] == 64 and summary["num_quantizers"] == 3
    assert summary["bitrate_bps"] == pytest.approx(48 * 3 * 6)
    assert set(summary["codebook"]) == {"level_0", "level_1", "level_2"}
    for stats in summary["codebook"].values():
        assert 0 < stats["utilization"] <= 1 and stats["perplexity"] >= 1
    assert summary["val/recon_l1"] > 0 and summary["val/norm_l1"] > 0
    assert summary["overrides"][0] == "debug=fast"
    assert summary["init_source"].startswith("train:")
    # checkpoints: best, last and periodic ones
    ckpts = {p.name for p in (run_dir / "checkpoints").glob("*.ckpt")}
    assert {"best.ckpt", "last.ckpt", "epoch0000.ckpt", "epoch0001.ckpt"} <= ckpts
    assert not list((run_dir / "checkpoints").glob("*.tmp"))
    # metrics.csv: one row per epoch with the per-level codebook health
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for key in (
        "train/recon_l1",
        "val/recon_l1",
        "val/norm_l1",
        "bitrate_bps",
        "val/codebook/level_2/utilization",
        "train/commit_level_0",
        "train/samples_per_s",
    ):
        assert rows[-1][key] != "", key
    assert float(rows[-1]["val/recon_l1"]) == pytest.approx(summary["val/recon_l1"], rel=1e-4)
    # the epoch means are summed two ways (Lightning's for loss and recon, the module's own for
    # the commitment figures): loss = recon + commit (weight 1), commit = sum of the levels;
    # recon is the run's own reconstruction loss (module.recon_loss in its saved config)
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    recon_key = f"train/recon_{saved['module']['recon_loss']}"
    for row in rows:
        loss, recon, commit = (
            float(row[k]) for k in ("train/loss", recon_key, "train/commit_loss")
        )
        assert commit > 0 and loss == pytest.approx(recon + commit, rel=1e-4)
        levels = sum(float(row[f"train/commit_level_{q}"]) for q in range(3))
        assert levels == pytest.approx(commit, rel=1e-4)
    # previews every epoch and at the end
    for name in ("epoch_0001", "epoch_0002", "final"):
        folder = run_dir / "previews" / name
        assert (folder / "mels.png").stat().st_size > 1000
        assert (folder / "0_original.wav").is_file() and (folder / "1_recon.wav").is_file()
    # the final preview is the last epoch's model: its audio is that preview's, not made again
    previews = run_dir / "previews"
    for wav in ("0_recon.wav", "1_original.wav"):
        assert (previews / "final" / wav).read_bytes() == (
            previews / "epoch_0002" / wav
        ).read_bytes()
    assert (previews / "epoch_0001" / "0_recon.wav").read_bytes() != (
        previews / "epoch_0002" / "0_recon.wav"
    ).read_bytes()
    # the checkpoint rebuilds the model from the file alone
    model = load_model(run_dir / "checkpoints" / "best.ckpt")
    assert model.codebook_size == 64 and model.quantizer.initted
    recon, idx, _ = model(torch.rand(1, 1, 128, 94))
    assert recon.shape == (1, 1, 128, 94) and idx.shape == (1, 48, 3)
    ckpt = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert ckpt["rvqvae"]["config"]["dataset"]["path"] == str(tone_folder)


def test_resume_reaches_same_epochs_and_keeps_codebooks(tone_folder: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    _here(tone_folder, first, "trainer.max_epochs=1")
    before = read_checkpoint(first / "checkpoints" / "last.ckpt")
    assert before["epoch"] == 0
    second = tmp_path / "second"
    _here(tone_folder, second, "trainer.max_epochs=3", f"resume={first}")
    summary = read_summary(second)
    assert summary["status"] == "completed" and summary["epochs"] == 3
    after = read_checkpoint(second / "checkpoints" / "last.ckpt")
    assert after["epoch"] == 2
    initted = [k for k in after["state_dict"] if k.endswith("initted")]
    assert initted and all(bool(after["state_dict"][k]) for k in initted)
    assert summary["init_source"] is None  # codebooks came from the checkpoint, not k-means
    # resume=auto in the same run folder after it finished: nothing left to do, still completed
    _here(tone_folder, second, "trainer.max_epochs=3", "resume=auto")
    assert read_summary(second)["epochs"] == 3


def test_invalid_override_stops_with_one_line(tone_folder: Path, tmp_path: Path) -> None:
    proc = run_train(
        fast_args(tone_folder, tmp_path / "bad", "model.num_quantizers=0"), tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "model.num_quantizers must be an integer >= 1, got 0" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    summary = read_summary(tmp_path / "bad")
    assert summary["status"] == "failed" and "num_quantizers" in summary["error"]


def test_missing_dataset_path_one_line(tmp_path: Path) -> None:
    proc = run_train(fast_args(tmp_path / "nope", tmp_path / "run"), tmp_path, check=False)
    assert proc.returncode != 0
    assert str(tmp_path / "nope") in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_unknown_key_rejected(tmp_path: Path) -> None:
    proc = run_train(["model.not_a_key=3"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "not_a_key" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wandb_offline_run_completes_with_its_offline_log(fast_wandb_run: dict) -> None:
    run_dir = fast_wandb_run["run"]
    assert read_summary(run_dir)["status"] == "completed"
    assert list(run_dir.glob("wandb/offline-run-*"))


@pytest.mark.timeout(180)
def test_wandb_disabled_run_completes_without_a_wandb_folder(
    tone_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    _here(
        tone_folder, run_dir, "logger=wandb", "logger.wandb.mode=disabled", "trainer.max_epochs=1"
    )
    assert read_summary(run_dir)["status"] == "completed"
    assert not list(run_dir.glob("wandb/offline-run-*"))


def test_dead_code_threshold_scaling() -> None:
    assert effective_dead_code_threshold(2, 32, 48, 256) == 1.5  # 0.25 * 6 hits per code
    assert effective_dead_code_threshold(2, 32, 48, 64) == 2  # plenty of hits: unchanged
    assert effective_dead_code_threshold(2, 1, 48, 64) == pytest.approx(0.1875)


def test_summary_json_is_valid_on_crash(tone_folder: Path, tmp_path: Path) -> None:
    # an impossible trainer argument fails inside the job: summary.json still says why
    run_dir = tmp_path / "run"
    with pytest.raises(InstantiationException, match="not_an_arg"):
        _here(tone_folder, run_dir, "+trainer.not_an_arg=1")
    data = json.loads((run_dir / "summary.json").read_text())
    assert data["status"] == "failed" and "not_an_arg" in data["error"]
