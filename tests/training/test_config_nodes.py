"""The optimizer, scheduler and callbacks are config nodes: overrides change the real run
(trained in-process on the real composed config)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from rvqvae.training.callbacks import CallbackConfigError, instantiate_callbacks
from rvqvae.training.run import optimizer_partials
from rvqvae.training.validation import ConfigError, validate_config
from tests.training.conftest import fast_args, read_summary, train_here
from tests.training.test_compose import resolved


def _metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _lrs(run_dir: Path) -> list[float]:
    return [float(row["lr"]) for row in _metrics(run_dir)]


def test_optimizer_lr_override_sets_the_trained_rate(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = fast_args(tone_folder, run_dir, "optimizer.lr=0.0123", "~callbacks.previews")
    train_here(args, run_dir)
    assert _lrs(run_dir) == pytest.approx([0.0123, 0.0123])  # no scheduler by default on folder
    assert not (run_dir / "previews").exists()  # ~callbacks.previews: that callback is off
    assert read_summary(run_dir)["status"] == "completed"


def test_scheduler_cosine_decays_the_rate(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["optimizer.lr=0.0123", "scheduler=cosine", "trainer.max_epochs=3"]
    train_here(fast_args(tone_folder, run_dir, *args), run_dir)
    lrs = _lrs(run_dir)
    assert len(lrs) == 3 and all(b < a for a, b in zip(lrs, lrs[1:]))
    assert lrs[0] < 0.0123 and lrs[-1] < 0.0123 / 2  # decays towards 0 at the run's end


def test_scheduler_fitted_to_the_time_budget_ends_annealed(tone_folder: Path, tmp_path) -> None:
    """trainer.max_time stops a run long before its max_epochs: the plain cosine would still be
    near the full rate; the time-fitted one has decayed by the budget's end."""
    run_dir = tmp_path / "run"
    args = [
        "optimizer.lr=0.0123",
        "scheduler=cosine_time",
        "trainer.max_epochs=10000",
        "trainer.max_time=00:00:00:04",
        "callbacks.previews=null",
    ]
    train_here(fast_args(tone_folder, run_dir, *args), run_dir)
    lrs = _lrs(run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and 2 <= summary["epochs"] < 10000
    assert all(b <= a for a, b in zip(lrs, lrs[1:])) and lrs[0] < 0.0123
    assert lrs[-1] < 0.0123 / 4, lrs  # a cosine over 10000 epochs would still be at ~0.0123


def test_early_stopping_preset_stops_the_run(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = [
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=0",
        "callbacks.early_stopping.min_delta=100",  # no epoch can improve by that much
        "callbacks.previews=null",
        "trainer.max_epochs=6",
    ]
    train_here(fast_args(tone_folder, run_dir, *args), run_dir)
    summary = read_summary(run_dir)
    assert summary["status"] == "completed"
    assert summary["epochs"] < 6 and len(_metrics(run_dir)) == summary["epochs"]
    assert not (run_dir / "previews").exists()  # callbacks.previews=null: no previews
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()  # the other callbacks still run


def test_optimizer_node_builds_what_it_names() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    adamw = optimizer_partials(resolved(["optimizer.weight_decay=0.2"]))["optimizer"](params)
    assert isinstance(adamw, torch.optim.AdamW)
    assert adamw.param_groups[0]["weight_decay"] == 0.2
    sgd = optimizer_partials(resolved(["optimizer._target_=torch.optim.SGD", "optimizer.lr=0.5"]))
    opt = sgd["optimizer"](params)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["lr"] == 0.5
    # the synth preset picks cosine; scheduler=none on the command line wins over it
    assert optimizer_partials(resolved([]))["scheduler"] is not None
    assert optimizer_partials(resolved(["scheduler=none"]))["scheduler"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer.lr=0"], "optimizer.lr must be a number > 0"),
        (["optimizer.weight_decay=-1"], "optimizer.weight_decay must be a number >= 0"),
        (["scheduler.warmup_steps=-5"], "scheduler.warmup_steps must be a number >= 0"),
        (["scheduler=cosine_time"], "scheduler.budget=time fits the decay to trainer.max_time"),
        (["scheduler.budget=hours"], "scheduler.budget must be steps or time"),
    ],
)
def test_bad_node_values_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(resolved(overrides))


def test_old_flat_callback_key_names_its_new_place() -> None:
    callbacks = resolved(["+callbacks.preview_interval=5"])["callbacks"]
    with pytest.raises(CallbackConfigError, match="callbacks.previews.interval"):
        instantiate_callbacks(callbacks)
