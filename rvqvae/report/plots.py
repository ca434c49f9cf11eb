"""Comparison plots as PNG bytes (matplotlib's object API on the Agg canvas, no pyplot state)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rvqvae.report.aggregate import SeedGroup, group_values, max_levels, mean_std
from rvqvae.report.pareto import DISTORTION_KEY, RATE_KEY, pareto_front, points
from rvqvae.report.priors import recon_rate_points
from rvqvae.report.runs import RunRecord
from rvqvae.training.objective import maximized


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def plot_curves(runs: list[RunRecord], key: str = "val/recon_l1") -> bytes:
    """Overlaid ``key`` vs epoch, one line per run."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    drawn = 0
    for run in runs:
        xs, ys = run.series(key)
        if ys:
            style = "-" if run.status == "completed" else "--"
            ax.plot(xs, ys, style, marker="." if len(ys) < 30 else None, label=run.label)
            drawn += 1
    if drawn:
        ax.legend(fontsize="small")
    else:
        _no_data(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key} per epoch")
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_rate_distortion(
    runs: list[RunRecord], y_key: str = "val/norm_l1", groups: list[SeedGroup] | None = None
) -> bytes:
    """Final ``y_key`` vs bitrate_bps, one labelled point per run.

    With seed ``groups``, runs are faint dots and each configuration is a labelled mean ± std.
    """
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    drawn = 0
    for run in runs:
        x, y = run.metric("bitrate_bps"), run.metric(y_key)
        if x is None or y is None:
            continue
        marker = "o" if run.status == "completed" else "x"
        if groups:
            ax.scatter([x], [y], marker=marker, color="gray", alpha=0.35, s=12)
        else:
            ax.scatter([x], [y], marker=marker)
            ax.annotate(run.label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        drawn += 1
    for group in groups or []:
        xs = group_values(group, lambda r: r.metric("bitrate_bps"))
        ys = group_values(group, lambda r, key=y_key: r.metric(key))
        if not xs or not ys:
            continue
        (mx, _), (my, sy) = mean_std(xs), mean_std(ys)
        label = " ".join(f"{k}={v}" for k, v in group.params.items()) or "all"
        ax.errorbar([mx], [my], yerr=[sy], fmt="o", capsize=4, label=f"{label} (n={len(ys)})")
        ax.annotate(label, (mx, my), textcoords="offset points", xytext=(6, 4), fontsize=7)
    if groups and drawn:
        ax.legend(fontsize="small")
    if not drawn:
        _no_data(ax)
    ax.set_xlabel("bitrate (bit/s)")
    ax.set_ylabel(f"final {y_key}")
    ax.set_title("rate-distortion" + (" (mean ± std over seeds)" if groups else ""))
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_codebook(runs: list[RunRecord]) -> bytes:
    """Per-level codebook utilization, bars grouped per run."""
    levels = max_levels(runs)
    fig = Figure(figsize=(max(6.0, 1.2 * len(runs) + 2), 4.5))
    ax = fig.add_subplot()
    if levels == 0:
        _no_data(ax)
    else:
        x = np.arange(len(runs))
        width = 0.8 / levels
        for k in range(levels):
            util = [run.codebook_level(k)["utilization"] for run in runs]
            heights = [np.nan if u is None else u for u in util]
            ax.bar(x + (k - (levels - 1) / 2) * width, heights, width, label=f"level {k}")
        ax.set_xticks(x)
        ax.set_xticklabels([run.name for run in runs], rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize="small")
    ax.set_xlabel("run")
    ax.set_ylabel("codebook utilization")
    ax.set_title("codebook utilization per level")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def plot_pareto(runs: list[RunRecord], y_key: str = DISTORTION_KEY) -> bytes:
    """Final ``y_key`` (val/norm_l1, or val/visqol) vs bitrate_bps of every run; the
    non-dominated runs are marked, labelled with their run names and joined by the staircase
    of the Pareto front."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    everything = points(runs, RATE_KEY, y_key)
    front = pareto_front(runs, RATE_KEY, y_key)
    on_front = {id(p.run) for p in front}
    rest = [p for p in everything if id(p.run) not in on_front]
    done = [p for p in rest if p.eligible]
    if done:
        ax.scatter([p.x for p in done], [p.y for p in done], color="gray", alpha=0.5, s=16)
        ax.scatter([], [], color="gray", alpha=0.5, s=16, label="dominated")
    unfinished = [p for p in rest if not p.eligible]
    if unfinished:
        xs, ys = [p.x for p in unfinished], [p.y for p in unfinished]
        ax.scatter(xs, ys, marker="x", color="gray", label="not completed")
    if front:
        xs, ys = [p.x for p in front], [p.y for p in front]
        ax.step(xs, ys, where="post", color="tab:red", alpha=0.6)
        ax.scatter(xs, ys, color="tab:red", s=36, zorder=3, label="Pareto front")
        names: dict[tuple[float, float], list[str]] = {}
        for p in front:  # run names (report.md lists their overrides); ties share a label
            names.setdefault((p.x, p.y), []).append(p.run.name)
        for xy, ns in names.items():
            ax.annotate(", ".join(ns), xy, textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.legend(fontsize="small")
    else:
        _no_data(ax, f"no completed run with bitrate_bps and {y_key}")
    ax.set_xlabel("bitrate (bit/s)")
    ax.set_ylabel(f"final {y_key}" + (" (higher is better)" if maximized(y_key) else ""))
    ax.set_title(f"Pareto front: {len(front)} of {len(everything)} runs non-dominated")
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_recon_vs_prior_rate(runs: list[RunRecord]) -> bytes:
    """The VQ-VAE's val/norm_l1 vs the prior's val/bits_per_s, one point per prior run,
    labelled ``levels x codebook size``; a hollow marker at the VQ-VAE's raw bits/s shows how
    much the prior saves."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    drawn, left_out = recon_rate_points(runs)
    for p in drawn:
        if p.raw_bits_per_s is not None:
            ax.plot([p.raw_bits_per_s, p.bits_per_s], [p.norm_l1] * 2, ":", color="gray", alpha=0.6)
            ax.scatter([p.raw_bits_per_s], [p.norm_l1], facecolors="none", edgecolors="gray", s=30)
        marker = "o" if p.run.status == "completed" else "x"
        ax.scatter([p.bits_per_s], [p.norm_l1], marker=marker, color="tab:blue", s=30, zorder=3)
        ax.annotate(
            p.label,
            (p.bits_per_s, p.norm_l1),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    if drawn:
        ax.scatter([], [], color="tab:blue", s=30, label="prior val/bits_per_s")
        ax.scatter([], [], facecolors="none", edgecolors="gray", s=30, label="raw bits/s")
        ax.legend(fontsize="small")
    else:
        _no_data(ax, "no prior run with val/bits_per_s and vqvae_norm_l1")
    ax.set_xlabel("bits/s of the codes")
    ax.set_ylabel("VQ-VAE final val/norm_l1")
    title = "reconstruction vs prior bits/s (labels: levels x codebook size)"
    if left_out:
        title += f"\n{len(left_out)} run(s) without val/bits_per_s or vqvae_norm_l1 not drawn"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _png(fig)
