"""Hydra callback that writes the local comparison report when a multirun ends.

Wire it in a Hydra config::

    hydra:
      callbacks:
        report:
          _target_: rvqvae.report.hydra_callback.ReportOnMultirunEnd
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def sweep_dir_of(config: DictConfig) -> Path:
    """The multirun folder (``hydra.sweep.dir``), made absolute against ``hydra.runtime.cwd``."""
    sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
    if not sweep_dir.is_absolute():
        cwd = OmegaConf.select(config, "hydra.runtime.cwd", default=None)
        if cwd:
            sweep_dir = Path(str(cwd)) / sweep_dir
    return sweep_dir


class ReportOnMultirunEnd(Callback):
    """Build ``report.md`` / ``report.html`` in the sweep folder after all jobs returned."""

    def __init__(self, title: str | None = None, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write the report; on any failure log a one-line warning instead of raising."""
        if not self.enabled:
            return
        try:
            from rvqvae.report.local import write_local_report
            from rvqvae.report.runs import collect_runs

            sweep_dir = sweep_dir_of(config)
            runs = collect_runs([sweep_dir])
            title = self.title or f"RVQ-VAE sweep {sweep_dir.parent.name}/{sweep_dir.name}"
            md_path, _ = write_local_report(runs, sweep_dir, title=title)
            log.info("Comparison report: %s", md_path)
        except Exception as e:  # noqa: BLE001 - a report must never fail the sweep
            message = " ".join(str(e).split())
            log.warning(
                "rvqvae.report: could not write the sweep report: %s: %s", type(e).__name__, message
            )
