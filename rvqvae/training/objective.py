"""Which way each summary metric goes, for sweeps and reports (pure Python, no imports).

Every summary key a sweep may optimise is lower-is-better except the ViSQOL scores
(``val/visqol``, MOS-LQO 1 to ~4.73). The Optuna presets set ``hydra.sweeper.direction`` from
``optimized_metric`` through ``${rvqvae.direction:${optimized_metric}}``; a failed job returns
the worst value of each key (``+inf`` when minimised, ``-inf`` when maximised).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

HIGHER_IS_BETTER = frozenset({"val/visqol", "val/visqol_ceiling"})


def maximized(key: str) -> bool:
    """True for a metric where higher is better."""
    return str(key) in HIGHER_IS_BETTER


def direction(objective: str | Sequence[str]) -> str | list[str]:
    """``maximize`` / ``minimize`` for one key, a list of them for a list of keys."""
    if isinstance(objective, str):
        return "maximize" if maximized(objective) else "minimize"
    return [str(direction(str(key))) for key in objective]


def worst(key: str) -> float:
    """The value a failed job reports for ``key``: the worst there is."""
    return -math.inf if maximized(key) else math.inf
