"""The epoch bar redraws at most every ``min_interval_s`` (and at the epoch's last batch): each
redraw reads the logged figures, which on a GPU waits for the device."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from rvqvae.training.console_callbacks import OneLineProgressBar


@pytest.mark.parametrize(("interval", "expected"), [(0.0, list(range(10))), (1e9, [9])])
def test_bar_redraws_are_throttled(
    monkeypatch: pytest.MonkeyPatch, interval: float, expected: list[int]
) -> None:
    drawn: list[int] = []
    monkeypatch.setattr(
        TQDMProgressBar,
        "on_train_batch_end",
        lambda self, trainer, module, outputs, batch, batch_idx: drawn.append(batch_idx),
    )
    bar = OneLineProgressBar(min_interval_s=interval)
    trainer = SimpleNamespace(num_training_batches=10)
    for i in range(10):
        bar.on_train_batch_end(trainer, None, None, torch.zeros(4, 1, 8, 8), i)
    assert drawn == expected
    assert bar._samples == 40  # the samples/s figure still counts every batch
