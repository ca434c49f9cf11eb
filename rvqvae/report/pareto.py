"""The Pareto front of two run metrics (by default bitrate_bps vs val/norm_l1); each axis is
minimised unless :func:`rvqvae.training.objective.maximized` says higher is better (ViSQOL:
``PERCEPTUAL_KEY`` as the distortion axis)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rvqvae.report.runs import RunRecord
from rvqvae.training.objective import maximized

RATE_KEY = "bitrate_bps"
DISTORTION_KEY = "val/norm_l1"
PERCEPTUAL_KEY = "val/visqol"  # the optional distortion axis: what it sounds like (higher wins)


@dataclass(frozen=True)
class Point:
    """One run's position in the (x, y) plane; ``eligible``: completed, may be on the front."""

    run: RunRecord
    x: float
    y: float
    eligible: bool


def points(
    runs: list[RunRecord], x_key: str = RATE_KEY, y_key: str = DISTORTION_KEY
) -> list[Point]:
    """Every run with finite final ``x_key`` and ``y_key`` values, in run order."""
    out = []
    for run in runs:
        x, y = run.metric(x_key), run.metric(y_key)
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            continue
        out.append(Point(run, x, y, eligible=run.status == "completed"))
    return out


def dominates(a: Point, b: Point, sx: float = 1.0, sy: float = 1.0) -> bool:
    """``a`` is no worse than ``b`` on both axes and better on at least one (lower is better
    on an axis of sign 1, higher on an axis of sign -1)."""
    ax, ay, bx, by = sx * a.x, sy * a.y, sx * b.x, sy * b.y
    return ax <= bx and ay <= by and (ax < bx or ay < by)


def pareto_front(
    runs: list[RunRecord], x_key: str = RATE_KEY, y_key: str = DISTORTION_KEY
) -> list[Point]:
    """The non-dominated completed runs, sorted by ``x_key`` then ``y_key``.

    Both metrics are minimised, except one where higher is better (``val/visqol``), which is
    maximised; runs with identical values are all kept; failed or unfinished runs are never on
    the front (nor do they push completed runs off it).
    """
    sx, sy = (-1.0 if maximized(k) else 1.0 for k in (x_key, y_key))
    eligible = [p for p in points(runs, x_key, y_key) if p.eligible]
    front = [p for p in eligible if not any(dominates(q, p, sx, sy) for q in eligible)]
    return sorted(front, key=lambda p: (p.x, p.y))
