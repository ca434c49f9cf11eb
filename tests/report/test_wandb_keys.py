"""Every key a W&B Report panel reads was recorded by a real run: no server, no drift.

A tiny real training runs with ``logger=wandb`` and ``WANDB_MODE=offline``; its offline
transaction log (``wandb/offline-run-*/run-*.wandb``) is read back record by record
(tests/helpers.py ``wandb_logged``): history keys (line plots; media as ``KEY/_type``), summary
keys (scatter, bars, parallel-coordinates target) and the config's dotted leaf keys
(parallel-coordinates axes). The panels come from one list, rvqvae.report.wandb_panels, which
the builder also uses; the last test proves the built Report has no panel outside that list.

Prior runs: ``prior_wandb_run`` trains one in-process on the composed ``train_prior`` config
(``train_prior(cfg)``); adding another run kind is one fixture and one test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import wandb_workspaces.reports.v2 as wr

from rvqvae.report.wandb_panels import (
    DEFAULT_PARAMS,
    LinePanel,
    MediaPanel,
    PanelKeys,
    PanelSpec,
    ParallelPanel,
    ScatterPanel,
    panel_keys,
    report_panels,
    vocoder_panels,
)
from rvqvae.report.wandb_report import build_wandb_report
from tests.helpers import WANDB_OFFLINE, WandbLogged, read_summary, train_here, wandb_logged


def missing_keys(
    panels: Sequence[PanelSpec], params: Sequence[str], logged: WandbLogged
) -> list[str]:
    """``"<where> <key>"`` for every key the panels read that the run did not record."""
    keys = panel_keys(panels, params)
    missing = [f"history {k}" for k in sorted(keys.history - logged.history)]
    missing += [f"summary {k}" for k in sorted(keys.summary - logged.summary)]
    missing += [f"config {k}" for k in sorted(keys.config - logged.config)]
    missing += [f"media {k}" for k in sorted(keys.media) if f"{k}/_type" not in logged.history]
    return missing


@pytest.fixture(scope="module")
def prior_wandb_run(wandb_vqvae_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real prior run of ``wandb_vqvae_run``'s VQ-VAE, W&B offline."""
    base = tmp_path_factory.mktemp("wandb_prior")
    run_dir = base / "run"
    args = [f"vqvae={wandb_vqvae_run}", "debug=fast", "logger=wandb"]
    args += ["evaluation.num_samples=2", "evaluation.seconds=1.0"]  # sampling is slow on CPU
    # a tiny transformer: the keys it logs, not its size, are the question
    args += ["prior.model.d_model=32", "prior.model.n_layers=1", "prior.model.n_heads=2"]
    summary = train_here(args, run_dir, env=WANDB_OFFLINE, job="train_prior")
    assert summary["kind"] == "prior"
    return run_dir


def test_vqvae_panel_keys_were_logged(wandb_vqvae_run: Path) -> None:
    logged = wandb_logged(wandb_vqvae_run)
    vqvae_panels, _ = report_panels(vqvae=True)
    assert missing_keys(vqvae_panels, DEFAULT_PARAMS, logged) == []
    # the parallel-coordinates axes are plain values in the logged config
    values = [logged.config_values[p] for p in DEFAULT_PARAMS]
    assert all(isinstance(v, (int, float)) for v in values), values


@pytest.mark.slow  # a prior training (sampling and evaluation included) on top of the VQ-VAE's
def test_prior_panel_keys_were_logged(prior_wandb_run: Path) -> None:
    logged = wandb_logged(prior_wandb_run)
    levels = int(read_summary(prior_wandb_run)["num_quantizers"])
    _, prior_panels = report_panels(vqvae=False, prior_levels=levels)
    missing = missing_keys(prior_panels, (), logged)
    assert missing == [], f"the prior run never logged these W&B Report keys: {missing}"


@pytest.mark.slow  # shares prior_wandb_run with the test above
def test_prior_sample_grid_views_reached_wandb(prior_wandb_run: Path) -> None:
    """Every sample's code grid view the run wrote (previews/*/sample_K_grid.png) is an image
    file of the offline W&B run, byte for byte."""
    written = {p.read_bytes() for p in prior_wandb_run.glob("previews/*/sample_*_grid.png")}
    media = prior_wandb_run.glob("wandb/offline-run-*/files/media/images/previews/sample_grids*")
    assert written and {p.read_bytes() for p in media} == written


def test_vocoder_panel_keys_were_logged(tiny_vocoder) -> None:
    """The vocoder grid's keys (val/loss, synthesis figures, the side-by-side audio) were all
    recorded by the tiny vocoder run (``logger=wandb``, offline)."""
    missing = missing_keys(vocoder_panels(), (), wandb_logged(tiny_vocoder.run))
    assert missing == [], f"the vocoder run never logged these W&B Report keys: {missing}"


def test_the_check_catches_keys_no_run_logged(wandb_vqvae_run: Path) -> None:
    """The bug this guards against: Lightning logs ``train/recon_l1`` (on_step and on_epoch)
    as ``train/recon_l1_step`` and ``train/recon_l1_epoch``, never under the plain name."""
    logged = wandb_logged(wandb_vqvae_run)
    assert {"train/recon_l1_step", "train/recon_l1_epoch"} <= logged.history
    assert "train/recon_l1" not in logged.history | logged.summary
    wrong = [
        LinePanel("old train curve", ("train/recon_l1",)),
        ScatterPanel("rd", "bitrate_bps", "val/norm_l1"),
        ParallelPanel("params", "val/norm_l1"),
        MediaPanel("media", ("previews/nothing",)),
    ]
    assert missing_keys(wrong, ["model", "model.nope"], logged) == [
        "history train/recon_l1",
        "config model",  # a config group is a dict, not an axis
        "config model.nope",
        "media previews/nothing",
    ]


def _built_keys(report: wr.Report) -> tuple[int, PanelKeys]:
    """Keys read by the built Report's panels, straight from the wandb_workspaces objects."""
    keys, count = PanelKeys(), 0
    for grid in (b for b in report.blocks if isinstance(b, wr.PanelGrid)):
        for panel in grid.panels:
            count += 1
            if isinstance(panel, wr.LinePlot):
                keys.history |= {panel.x, *panel.y}
            elif isinstance(panel, wr.ScatterPlot):
                keys.summary |= {panel.x, panel.y}
            elif isinstance(panel, wr.BarPlot):
                keys.summary |= set(panel.metrics)
            elif isinstance(panel, wr.ParallelCoordinatesPlot):
                for column in panel.columns:
                    if isinstance(column.metric, wr.Config):
                        keys.config.add(column.metric.name)
                    else:
                        assert isinstance(column.metric, wr.SummaryMetric)
                        keys.summary.add(column.metric.name)
            elif isinstance(panel, wr.MediaBrowser):
                keys.media |= set(panel.media_keys)
            else:  # a new panel type needs a line here and in panel_keys
                assert isinstance(panel, wr.RunComparer), type(panel)
    return count, keys


@pytest.mark.parametrize(("vqvae", "prior_levels"), [(True, None), (True, 3), (False, 2)])
def test_every_report_panel_comes_from_the_panel_list(
    vqvae: bool, prior_levels: int | None
) -> None:
    report = build_wandb_report(
        "g", "me", "p", params=DEFAULT_PARAMS, vqvae=vqvae, prior_levels=prior_levels
    )
    vq, prior = report_panels(vqvae=vqvae, prior_levels=prior_levels)
    count, keys = _built_keys(report)
    assert count == len(vq) + len(prior)
    assert keys == panel_keys([*vq, *prior], DEFAULT_PARAMS)


def test_the_vocoder_grid_comes_from_the_panel_list() -> None:
    report = build_wandb_report("g", "me", "p", vqvae=False, vocoders=True)
    count, keys = _built_keys(report)
    assert count == len(vocoder_panels())
    assert keys == panel_keys(vocoder_panels())
