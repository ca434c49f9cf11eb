"""Runs saved before the optimizer, scheduler and callbacks became config nodes still resume and
load; a resume into another folder writes there, not into the saved run's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import rvqvae
from rvqvae.training.config_upgrade import upgrade_saved_config
from tests.training.conftest import fast_args, read_summary, run_train, train_here


def _saved(ckpt: Path) -> dict[str, Any]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def _as_old_layout(config: dict[str, Any], lr: float) -> dict[str, Any]:
    """``config`` as the versions before this change saved it (flat keys, no nodes)."""
    config = dict(config)
    config.pop("optimizer")
    config.pop("scheduler")
    config["module"] = {
        **config["module"],
        "learning_rate": lr,
        "weight_decay": 0.01,
        "lr_schedule": "cosine",
        "warmup_steps": 7,
    }
    config["callbacks"] = {
        "checkpoint_interval": 1,
        "max_checkpoints": 3,
        "preview_interval": 1000,
        "preview_chunks": 2,
        "griffin_lim_iters": 4,
        # the console's callbacks lived in rvqvae/console.py then
        "start_line": {"_target_": "rvqvae.console.StartLine"},
        "progress_bar": {"_target_": "rvqvae.console.OneLineProgressBar"},
    }
    return config


def test_upgrade_moves_old_keys_to_the_nodes() -> None:
    old = {
        "module": {"learning_rate": 0.002, "weight_decay": 0.0, "lr_schedule": "none", "x": 1},
        "callbacks": {"preview_interval": 7, "griffin_lim_iters": 3, "max_checkpoints": 2},
    }
    new = upgrade_saved_config(old)
    assert new["module"] == {"x": 1}
    assert new["optimizer"]["lr"] == 0.002 and new["optimizer"]["weight_decay"] == 0.0
    assert new["scheduler"] is None
    assert new["callbacks"] == {
        "previews": {"interval": 7, "griffin_lim_iters": 3},
        "checkpoints": {"max_checkpoints": 2},
    }
    assert upgrade_saved_config(new) == new  # today's layout: unchanged


def test_run_saved_with_old_keys_resumes_and_loads(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train_here(fast_args(tone_folder, run_dir, "trainer.max_epochs=1"), run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = _saved(last)
    checkpoint["rvqvae"]["config"] = _as_old_layout(checkpoint["rvqvae"]["config"], 0.0077)
    torch.save(checkpoint, last)
    assert rvqvae.load_model(str(last)).num_quantizers == 3  # encode/decode/evaluate load it

    run_train([f"resume={run_dir}", "trainer.max_epochs=2"], tmp_path)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["epochs"] == 2
    config = _saved(last)["rvqvae"]["config"]  # what the resumed part trained with
    assert config["optimizer"]["lr"] == 0.0077 and "learning_rate" not in config["module"]
    assert config["scheduler"]["warmup_steps"] == 7
    assert config["callbacks"]["previews"]["interval"] == 1000
    assert config["callbacks"]["start_line"]["_target_"].endswith("console_callbacks.StartLine")
    # the saved preview interval (1000) held: no epoch_0002 preview, only the final one
    assert sorted(p.name for p in (run_dir / "previews").iterdir()) == ["epoch_0001", "final"]


def test_resume_into_another_folder_writes_there(tone_folder: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    train_here(fast_args(tone_folder, first, "trainer.max_epochs=1"), first)
    before = {p.name: p.stat().st_mtime_ns for p in (first / "checkpoints").iterdir()}
    resume = [f"resume={first / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={second}"]
    run_train([*resume, "trainer.max_epochs=2"], tmp_path)
    assert read_summary(second)["status"] == "completed"
    assert (second / "checkpoints" / "last.ckpt").is_file()
    assert (second / "previews" / "final").is_dir() and (second / "metrics.csv").is_file()
    after = {p.name: p.stat().st_mtime_ns for p in (first / "checkpoints").iterdir()}
    assert after == before  # the first run's folder is left as it was
