"""Comparison reports over Hydra run folders: local Markdown/HTML (offline) and W&B Reports.

``python -m rvqvae.report PATH...`` writes ``report.md`` + ``report.html``; the Hydra callback
:class:`rvqvae.report.hydra_callback.ReportOnMultirunEnd` does the same after a multirun.
Folders may hold RVQ-VAE runs (``python -m rvqvae.train``), prior runs
(``python -m rvqvae.train_prior``) or both. The W&B builder lives in
:mod:`rvqvae.report.wandb_report` (it needs ``wandb_workspaces``); its panels and every key they
read are declared in :mod:`rvqvae.report.wandb_panels`.
Names below are imported lazily so that importing the package (e.g. for the Hydra callback)
does not load matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ReportError": "rvqvae.report.runs",
    "RunRecord": "rvqvae.report.runs",
    "collect_runs": "rvqvae.report.runs",
    "find_run_dirs": "rvqvae.report.runs",
    "load_run": "rvqvae.report.runs",
    "SeedGroup": "rvqvae.report.aggregate",
    "Table": "rvqvae.report.aggregate",
    "runs_table": "rvqvae.report.aggregate",
    "seed_groups": "rvqvae.report.aggregate",
    "seed_table": "rvqvae.report.aggregate",
    "swept_keys": "rvqvae.report.aggregate",
    "write_local_report": "rvqvae.report.local",
    "pareto_front": "rvqvae.report.pareto",
    "prior_table": "rvqvae.report.priors",
    "prior_seed_table": "rvqvae.report.priors",
    "build_wandb_report": "rvqvae.report.wandb_report",
    "publish_wandb_report": "rvqvae.report.wandb_report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rvqvae.report' has no attribute {name!r}")
