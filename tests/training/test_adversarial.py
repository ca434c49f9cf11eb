"""The codec's adversarial stage (``module.adversarial``): the discriminator learns to tell
reconstructions from their mels, a real run switches the stage on after its warm-up share, saves
and resumes the discriminator, and bad settings stop on one line."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from rvqvae.models.adversarial import MelDiscriminator, discriminator_loss
from rvqvae.training.adversarial import adversarial_settings
from rvqvae.training.checkpoint import load_model, read_checkpoint
from rvqvae.training.validation import ConfigError
from tests.training.conftest import fast_args, read_summary, train_here

ON = ["module.adversarial.enabled=true", "module.adversarial.start=0.5", "callbacks.previews=null"]


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_discriminator_learns_to_tell_blurred_mels_from_sharp_ones() -> None:
    """The smoothed copy of a mel stands in for a blurry reconstruction: a few steps of the
    least-squares loss separate the two (real scores up, blurred ones down)."""
    torch.manual_seed(0)
    sharp = torch.rand(8, 1, 64, 48) * 4
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, stride=1, padding=2)
    discriminator = MelDiscriminator(channels=8, scales=2)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        real, _ = discriminator(sharp)
        fake, _ = discriminator(blurred)
        loss = discriminator_loss(real, fake)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        real, features = discriminator(sharp)
        fake, _ = discriminator(blurred)
    assert losses[-1] < 0.25 * losses[0], losses
    for r, f in zip(real, fake):  # every scale scores the sharp mels above the blurred ones
        assert float(r.mean()) > float(f.mean()) + 0.3
    assert len(features) == 2 and len(features[0]) == 4  # 3 convs + the score map per scale


def test_run_trains_the_stage_after_its_warm_up_and_resumes_it(
    tone_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    train_here(fast_args(tone_folder, run_dir, *ON), run_dir)  # debug=fast: 2 epochs
    rows = _rows(run_dir)
    # epoch 0 is the warm-up (start 0.5 of 2 epochs): no GAN figures; epoch 1 has them
    assert [r["train/d_loss"] for r in rows][0] == ""
    for key in ("train/d_loss", "train/adv", "train/feature_matching"):
        assert math.isfinite(float(rows[1][key])) and float(rows[1][key]) > 0, key
    # train/loss stays reconstruction + commitment (comparable with runs without the stage)
    for row in rows:
        recon = float(row["train/recon_multires_l1"]) + float(row["train/commit_loss"])
        assert float(row["train/loss"]) == pytest.approx(recon, rel=1e-4)
    ckpt = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert any(k.startswith("discriminator.") for k in ckpt["state_dict"])
    assert len(ckpt["optimizer_states"]) == 2  # the VQ-VAE's and the discriminator's
    load_model(run_dir / "checkpoints" / "best.ckpt")  # the codec reads its part only
    before = {k: v for k, v in ckpt["state_dict"].items() if k.startswith("discriminator.")}
    # resumed: the discriminator goes on from its saved state
    train_here([f"resume={run_dir}", "trainer.max_epochs=3"], run_dir)
    assert read_summary(run_dir)["epochs"] == 3
    rows = _rows(run_dir)
    assert len(rows) == 3 and math.isfinite(float(rows[2]["train/d_loss"]))
    after = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"]
    assert any(not torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"enabled": "yes"}, "module.adversarial.enabled must be true or false"),
        ({"enabled": True, "start": 1.0}, "module.adversarial.start must be < 1"),
        ({"enabled": True, "weight": -1}, "module.adversarial.weight must be a number >= 0"),
        ({"enabled": True, "channels": 0}, "module.adversarial.channels must be an integer >= 1"),
        ({"enabled": True, "scale": 2}, "module.adversarial has no key 'scale'"),
    ],
)
def test_bad_settings_are_one_line(node: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        settings = adversarial_settings(node)
        assert settings is not None
        MelDiscriminator(settings.channels, settings.scales)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert adversarial_settings({"enabled": False, "start": 5}) is None  # off: nothing is checked


def test_ddp_is_refused_on_one_line(tone_folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["trainer=ddp", "trainer.accelerator=cpu", "module.adversarial.enabled=true"]
    with pytest.raises(ConfigError, match="does not run under DDP yet"):
        train_here(fast_args(tone_folder, run_dir, *args), run_dir)
    assert read_summary(run_dir)["status"] == "failed"
