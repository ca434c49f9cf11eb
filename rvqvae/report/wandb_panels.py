"""The panels of the W&B Report, declared once: the builder turns these specs into
``wandb_workspaces`` panels, and tests/report/test_wandb_keys.py checks every key they name
against what a real offline training run recorded.

Key names follow what the runs log to W&B, not metrics.csv: a metric Lightning logs per step
and per epoch (``train/recon_l1``) reaches W&B as ``train/recon_l1_step`` and
``train/recon_l1_epoch``; metrics.csv keeps the epoch value under the plain name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MEDIA_KEY = "previews/audio"
PRIOR_MEDIA_KEY = "previews/samples"  # prior samples: audio
PRIOR_MEDIA_IMAGE_KEY = "previews/sample_mels"  # and their mels
PRIOR_MEDIA_GRID_KEY = "previews/sample_grids"  # and their code grid views
CODE_GRID_KEY = "previews/code_grid"  # VQ-VAE runs: code grid views of validation files
# vocoder runs: the same validation files as original | Griffin-Lim | vocoder audio
VOCODER_MEDIA_KEYS = ("previews/original", "previews/griffinlim", "previews/vocoder")
EPOCH_KEY = "epoch"
# Parallel-coordinates axes when no run folders tell which parameters were swept.
DEFAULT_PARAMS = (
    "model.codebook_dim",
    "model.num_quantizers",
    "model.codebook_size",
    "optimizer.lr",
)


@dataclass(frozen=True)
class LinePanel:
    """History keys ``y`` against ``x`` (a history key too)."""

    title: str
    y: tuple[str, ...]
    x: str = EPOCH_KEY


@dataclass(frozen=True)
class ScatterPanel:
    """One point per run: final (summary) ``y`` against final ``x``."""

    title: str
    x: str
    y: str


@dataclass(frozen=True)
class BarPanel:
    """Final (summary) values of ``metrics``, bars per run."""

    title: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ParallelPanel:
    """The swept config parameters (given when the report is built) and a summary ``target``."""

    title: str
    target: str


@dataclass(frozen=True)
class ComparerPanel:
    """W&B's run comparer (config and summary side by side; names no key)."""


@dataclass(frozen=True)
class MediaPanel:
    """Media logged under ``keys`` (audio, images)."""

    title: str
    keys: tuple[str, ...]


PanelSpec = LinePanel | ScatterPanel | BarPanel | ParallelPanel | ComparerPanel | MediaPanel


def vqvae_panels(media_key: str = DEFAULT_MEDIA_KEY) -> tuple[PanelSpec, ...]:
    """Panels of an RVQ-VAE group: curves, rate-distortion, swept parameters, comparer, audio."""
    return (
        LinePanel("val/recon_l1", ("val/recon_l1",)),
        LinePanel("train/recon_l1 (epoch mean)", ("train/recon_l1_epoch",)),
        ScatterPanel(
            "rate-distortion (final val/norm_l1 vs bitrate)", "bitrate_bps", "val/norm_l1"
        ),
        ParallelPanel("swept parameters vs val/norm_l1", "val/norm_l1"),
        ScatterPanel(
            "what it sounds like (final val/visqol vs bitrate; higher is better)",
            "bitrate_bps",
            "val/visqol",
        ),
        ComparerPanel(),
        MediaPanel("final previews", (media_key, CODE_GRID_KEY)),
    )


def prior_panels(levels: int) -> tuple[PanelSpec, ...]:
    """Panels of prior runs: val/bits_per_s overall and per level, against the unigram and raw
    bits/s, Fréchet distances, samples. ``levels``: the RVQ levels the priors model."""
    per_level = tuple(f"val/bits_per_s/level_{k}" for k in range(levels))
    panels: list[PanelSpec] = [LinePanel("prior val/bits_per_s", ("val/bits_per_s",))]
    if per_level:
        panels.append(LinePanel("prior val/bits_per_s per level", per_level))
    panels += [
        LinePanel(
            "prior vs unigram vs raw bits/s",
            ("val/bits_per_s", "unigram_bits_per_s", "raw_bits_per_s"),
        ),
        BarPanel(
            "Fréchet distance of log-mel statistics to validation",
            ("fd_prior", "fd_unigram", "fd_reconstruction"),
        ),
        BarPanel(
            "Fréchet distance of 1 s windows to validation",
            ("wfd_prior", "wfd_unigram", "wfd_reconstruction", "wfd_train", "wfd_shuffled"),
        ),
        BarPanel(
            "Fréchet distance of 1 s windows at infinitely many windows (no small-sample bias)",
            tuple(f"wfd_inf_{name}" for name in ("prior", "unigram", "reconstruction", "train")),
        ),
        BarPanel(
            "two-sample accuracy vs validation (0.5 = indistinguishable)",
            ("c2st_prior", "c2st_unigram", "c2st_reconstruction", "c2st_train", "c2st_shuffled"),
        ),
        MediaPanel("prior samples", (PRIOR_MEDIA_KEY, PRIOR_MEDIA_IMAGE_KEY, PRIOR_MEDIA_GRID_KEY)),
    ]
    return tuple(panels)


def report_panels(
    vqvae: bool = True, prior_levels: int | None = None, media_key: str = DEFAULT_MEDIA_KEY
) -> tuple[list[PanelSpec], list[PanelSpec]]:
    """The Report's panels: (VQ-VAE grid, Priors grid); the Priors grid only with
    ``prior_levels`` (the RVQ levels of the priors' VQ-VAE), the VQ-VAE grid unless ``vqvae``
    is False. The builder and the key test both take their panels from here."""
    vq = list(vqvae_panels(media_key)) if vqvae else []
    prior = list(prior_panels(prior_levels)) if prior_levels is not None else []
    return vq, prior


@dataclass
class PanelKeys:
    """Every key a set of panels reads, by where a run keeps it."""

    history: set[str] = field(default_factory=set)  # logged series (line plots)
    summary: set[str] = field(default_factory=set)  # final values (scatter, bars, parallel)
    config: set[str] = field(default_factory=set)  # dotted config keys (parallel coordinates)
    media: set[str] = field(default_factory=set)  # media keys (media browser)


def panel_keys(panels: Sequence[PanelSpec], params: Sequence[str] = ()) -> PanelKeys:
    """The keys ``panels`` read; ``params`` are the parallel-coordinates config keys."""
    keys = PanelKeys()
    for panel in panels:
        if isinstance(panel, LinePanel):
            keys.history |= {panel.x, *panel.y}
        elif isinstance(panel, ScatterPanel):
            keys.summary |= {panel.x, panel.y}
        elif isinstance(panel, BarPanel):
            keys.summary |= set(panel.metrics)
        elif isinstance(panel, ParallelPanel):
            keys.config |= set(params)
            keys.summary.add(panel.target)
        elif isinstance(panel, MediaPanel):
            keys.media |= set(panel.keys)
    return keys


def _layouts(panels: Sequence[PanelSpec]) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) per panel: charts two per row, comparer and media across the page."""
    out, x, y = [], 0, 0
    for panel in panels:
        if isinstance(panel, (ComparerPanel, MediaPanel)):
            if x:
                x, y = 0, y + 8
            height = 10 if isinstance(panel, MediaPanel) else 8
            out.append((0, y, 24, height))
            y += height
        else:
            out.append((x, y, 12, 8))
            x, y = (12, y) if x == 0 else (0, y + 8)
    return out


def to_wandb_panels(panels: Sequence[PanelSpec], params: Sequence[str] = ()) -> list[Any]:
    """``wandb_workspaces.reports.v2`` panels for ``panels`` (objects only, no network)."""
    import wandb_workspaces.reports.v2 as wr

    out: list[Any] = []
    for panel, (x, y, w, h) in zip(panels, _layouts(panels)):
        layout = wr.Layout(x=x, y=y, w=w, h=h)
        if isinstance(panel, LinePanel):
            out.append(wr.LinePlot(title=panel.title, x=panel.x, y=list(panel.y), layout=layout))
        elif isinstance(panel, ScatterPanel):
            out.append(wr.ScatterPlot(title=panel.title, x=panel.x, y=panel.y, layout=layout))
        elif isinstance(panel, BarPanel):
            out.append(wr.BarPlot(title=panel.title, metrics=list(panel.metrics), layout=layout))
        elif isinstance(panel, ParallelPanel):
            columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(p)) for p in params]
            target = wr.SummaryMetric(panel.target)
            columns.append(wr.ParallelCoordinatesPlotColumn(metric=target))
            out.append(
                wr.ParallelCoordinatesPlot(title=panel.title, columns=columns, layout=layout)
            )
        elif isinstance(panel, ComparerPanel):
            out.append(wr.RunComparer(diff_only="split", layout=layout))
        elif isinstance(panel, MediaPanel):
            out.append(
                wr.MediaBrowser(title=panel.title, media_keys=list(panel.keys), layout=layout)
            )
    return out


def vocoder_panels() -> tuple[PanelSpec, ...]:
    """Panels of vocoder runs: val/loss, Griffin-Lim vs vocoder vs ideal-phase log-spectral
    distance from the VQ-VAE's reconstruction at n_fft 256 and 8192, mel consistency, and the
    same files as original | Griffin-Lim | vocoder audio."""
    trio = ("griffinlim", "vocoder", "ideal_phase")
    return (
        LinePanel("vocoder val/loss", ("val/loss",)),
        BarPanel(
            "LSD n_fft 256 from reconstructions (Griffin-Lim, vocoder, ideal phase)",
            tuple(f"synthesis/recon/{name}/lsd_256" for name in trio),
        ),
        BarPanel(
            "LSD n_fft 8192 from reconstructions (Griffin-Lim, vocoder, ideal phase)",
            tuple(f"synthesis/recon/{name}/lsd_8192" for name in trio),
        ),
        BarPanel(
            "mel consistency (Griffin-Lim, vocoder)",
            tuple(f"synthesis/recon/{name}/mel_consistency" for name in trio[:2]),
        ),
        MediaPanel("original | Griffin-Lim | vocoder", VOCODER_MEDIA_KEYS),
    )
