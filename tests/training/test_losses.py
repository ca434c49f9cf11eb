"""The reconstruction losses (module.recon_loss): what each one weighs, and a real run with one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from rvqvae.training.losses import RECON_LOSSES, l1_linear, multires_l1
from tests.training.conftest import fast_args, read_summary, train_here


def _mel(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 1, 128, 64, generator=torch.Generator().manual_seed(seed)) * 4


@pytest.mark.parametrize("name", sorted(RECON_LOSSES))
def test_every_loss_is_zero_on_the_target_and_positive_off_it(name: str) -> None:
    x = _mel()
    assert float(RECON_LOSSES[name](x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(RECON_LOSSES[name](x + 0.1, x)) > 0


def test_multires_counts_the_coarse_shape_beside_the_detail() -> None:
    x = _mel()
    sign = torch.ones(128, 64)
    sign[0::2, 0::2] = sign[1::2, 1::2] = -1  # +-0.2 in every 2x2 block: the averages stay
    detail_error = x + 0.2 * sign
    offset_error = x + 0.2  # the same L1, in the coarse shape too
    plain = torch.nn.functional.l1_loss
    assert float(plain(detail_error, x)) == pytest.approx(float(plain(offset_error, x)))
    assert float(multires_l1(offset_error, x)) == pytest.approx(0.2, rel=1e-5)
    assert float(multires_l1(detail_error, x)) == pytest.approx(0.2 / 4, rel=1e-4)


def test_l1_linear_weighs_an_error_at_a_loud_bin_more() -> None:
    x = torch.full((1, 1, 16, 16), 0.5)
    x[..., 3, 3] = 6.0  # one loud bin
    loud, quiet = x.clone(), x.clone()
    loud[..., 3, 3] -= 0.5
    quiet[..., 9, 9] -= 0.5
    plain = torch.nn.functional.l1_loss
    assert float(plain(loud, x)) == pytest.approx(float(plain(quiet, x)))
    assert float(l1_linear(loud, x)) > 3 * float(l1_linear(quiet, x))


def test_l1_linear_gradient_is_finite_on_silence() -> None:
    recon = torch.zeros(1, 1, 8, 8, requires_grad=True)
    l1_linear(recon, torch.zeros(1, 1, 8, 8) + 0.01).backward()
    assert torch.isfinite(recon.grad).all()


def test_a_run_trains_with_multires_l1_and_logs_it(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["module.recon_loss=multires_l1", "trainer.max_epochs=1", "callbacks.previews=null"]
    train_here(fast_args(tone_folder, run_dir, *args), run_dir)
    assert read_summary(run_dir)["status"] == "completed"
    with (run_dir / "metrics.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["train/recon_multires_l1"]) > 0
    assert float(row["train/recon_l1"]) > 0  # the plain L1 beside it, as for mse
