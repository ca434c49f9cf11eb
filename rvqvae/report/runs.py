"""Parse what each Hydra job left behind (no W&B, no network): VQ-VAE runs and prior runs.

A run's ``kind`` is ``"prior"`` when its summary.json says ``kind: prior`` (``python -m
rvqvae.train_prior``), else ``"vqvae"``; a prior job that died before writing summary.json is
recognised by its ``vqvae=`` override or its Hydra job name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvqvae.report.folders import (
    as_float,
    find_run_dirs,
    is_run_dir,
    job_log_error,
    natural_key,
    override_key,
    read_metrics_csv,
    read_yaml,
    relpath,
)

__all__ = [
    "FINAL_PREVIEW_DIR",
    "PRIOR",
    "PRIOR_VQVAE_KEY",
    "VOCODER",
    "VQVAE",
    "ReportError",
    "RunRecord",
    "collect_runs",
    "find_run_dirs",
    "is_run_dir",
    "load_run",
    "natural_key",
    "override_key",
    "read_metrics_csv",
    "relpath",
    "run_kind",
    "short_run_path",
]

FINAL_PREVIEW_DIR = Path("previews") / "final"
VQVAE = "vqvae"
PRIOR = "prior"
VOCODER = "vocoder"
# Swept config keys whose resolved value summary.json records (.hydra/config.yaml may hold
# unresolved interpolations such as ``${rvqvae.tier:...}``).
_SUMMARY_PARAMS = {
    "model.codebook_dim": "codebook_dim",
    "model.codebook_size": "codebook_size",
    "model.num_quantizers": "num_quantizers",
    "seed": "seed",
}
# The override that names a prior's VQ-VAE (``vqvae=RUN_DIR_OR_CKPT``) and the prior's job name.
PRIOR_VQVAE_KEY = "vqvae"
_PRIOR_JOB_NAME = "train_prior"


class ReportError(Exception):
    """A user-facing problem (bad PATH, no runs); the CLI prints it on one line."""


@dataclass
class RunRecord:
    """Everything the reports need from one Hydra run folder."""

    name: str  # job folder name ("0", "1", ...); made unique by collect_runs
    path: Path
    overrides: list[str] = field(default_factory=list)
    override_map: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)  # metrics.csv rows
    status: str = "unknown"  # completed | failed | running | unknown
    error: str | None = None
    has_summary: bool = False
    preview_audio: list[Path] = field(default_factory=list)
    preview_image: Path | None = None
    preview_grids: list[Path] = field(default_factory=list)  # code grid views (grid_K.png)
    label_overrides: list[str] | None = None  # overrides shown in the label (default: all)
    kind: str = VQVAE  # "vqvae" | "prior" | "vocoder"

    @property
    def label(self) -> str:
        """Run name plus its overrides, e.g. ``0: model.codebook_dim=64``.

        collect_runs leaves out the overrides shared by every run it loaded.
        """
        shown = self.overrides if self.label_overrides is None else self.label_overrides
        if self.kind in (PRIOR, VOCODER):  # the VQ-VAE's path is long: its last two folders
            shown = [_short_vqvae_override(o) for o in shown]
        return f"{self.name}: {' '.join(shown)}" if shown else self.name

    @property
    def is_prior(self) -> bool:
        """True for a ``python -m rvqvae.train_prior`` run."""
        return self.kind == PRIOR

    @property
    def is_vocoder(self) -> bool:
        """True for a ``python -m rvqvae.train_vocoder`` run."""
        return self.kind == VOCODER

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(epochs, values) of a metrics.csv column, skipping empty cells."""
        xs: list[float] = []
        ys: list[float] = []
        for i, row in enumerate(self.history):
            y = row.get(key)
            if y is None:
                continue
            xs.append(row.get("epoch", float(i)))
            ys.append(y)
        return xs, ys

    def metric(self, key: str) -> float | None:
        """A final value: summary.json first, else the last non-empty metrics.csv cell.

        ``best/<key>`` falls back to the minimum of the ``<key>`` column.
        """
        value = as_float(self.summary.get(key))
        if value is not None:
            return value
        if key.startswith("best/"):
            _, ys = self.series(key[len("best/") :])
            return min(ys) if ys else None
        _, ys = self.series(key)
        return ys[-1] if ys else None

    def best_epoch(self) -> int | None:
        """Epoch of the best val/recon_l1 (priors: val/bits_per_s), summary.json first."""
        if isinstance(self.summary.get("best_epoch"), int):
            return self.summary["best_epoch"]
        xs, ys = self.series("val/bits_per_s" if self.is_prior else "val/recon_l1")
        return int(xs[ys.index(min(ys))]) if ys else None

    def num_levels(self) -> int:
        """Number of RVQ levels with codebook statistics."""
        levels = len(self._summary_codebook())
        for row in self.history:
            for key in row:
                m = re.fullmatch(r"val/codebook/level_(\d+)/\w+", key)
                if m:
                    levels = max(levels, int(m.group(1)) + 1)
        return levels

    def codebook_level(self, level: int) -> dict[str, float | None]:
        """utilization / perplexity / dead_codes of one level (summary, else last csv row)."""
        stats = self._summary_codebook().get(f"level_{level}", {})
        out: dict[str, float | None] = {}
        for stat in ("utilization", "perplexity", "dead_codes"):
            value = as_float(stats.get(stat)) if isinstance(stats, dict) else None
            if value is None:
                _, ys = self.series(f"val/codebook/level_{level}/{stat}")
                value = ys[-1] if ys else None
            out[stat] = value
        return out

    def train_seconds(self) -> float | None:
        """Training wall time (summary, else the last ``time_s``)."""
        value = as_float(self.summary.get("train_seconds"))
        return value if value is not None else self.metric("time_s")

    def value_of(self, key: str) -> str | None:
        """A parameter's value: the override, else summary.json's resolved value (codebook
        size/dim, levels, seed), else the composed config unless it is an unresolved ``${...}``.
        """
        if key in self.override_map:
            return self.override_map[key]
        summary_key = _SUMMARY_PARAMS.get(key)
        if summary_key and self.summary.get(summary_key) is not None:
            return str(self.summary[summary_key])
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if node is None or isinstance(node, (dict, list)):
            return None
        if isinstance(node, str) and "${" in node:
            return None
        return str(node)

    def _summary_codebook(self) -> dict[str, Any]:
        codebook = self.summary.get("codebook")
        return codebook if isinstance(codebook, dict) else {}


def short_run_path(value: str) -> str:
    """A run folder or checkpoint path shortened to the run's last two folders:
    ``/x/multirun/2024-05-01/12-00-00/3/checkpoints/best.ckpt`` -> ``12-00-00/3``."""
    path = Path(value)
    if path.suffix == ".ckpt":
        path = path.parent
    if path.name == "checkpoints":
        path = path.parent
    return "/".join(path.parts[-2:]) or value


def _short_vqvae_override(override: str) -> str:
    kv = override_key(override)
    if kv is None or kv[0] != PRIOR_VQVAE_KEY:
        return override
    return f"{PRIOR_VQVAE_KEY}={short_run_path(kv[1])}"


def run_kind(summary: dict[str, Any], override_map: dict[str, str], hydra_cfg: Any) -> str:
    """``"prior"``, ``"vocoder"`` or ``"vqvae"`` from summary.json's ``kind``, else the
    overrides / job name."""
    kind = summary.get("kind")
    if kind in (PRIOR, VQVAE, VOCODER):
        return str(kind)
    if PRIOR_VQVAE_KEY in override_map:
        return PRIOR
    if isinstance(hydra_cfg, dict):
        job = (hydra_cfg.get("hydra") or {}).get("job") or {}
        if isinstance(job, dict) and job.get("name") == _PRIOR_JOB_NAME:
            return PRIOR
    return VQVAE


def _final_previews(run_dir: Path) -> tuple[list[Path], Path | None]:
    folder = run_dir / FINAL_PREVIEW_DIR
    if not folder.is_dir():
        return [], None
    audio = sorted(folder.glob("*.wav"), key=lambda p: natural_key(p.name))
    image = folder / "mels.png"
    return audio, image if image.is_file() else None


def load_run(run_dir: Path) -> RunRecord:
    """Parse one run folder following the run-folder contract; never raises on bad files."""
    run = RunRecord(name=run_dir.name, path=run_dir)
    hydra_dir = run_dir / ".hydra"
    config = read_yaml(hydra_dir / "config.yaml")
    run.config = config if isinstance(config, dict) else {}
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
        except (OSError, ValueError):
            summary = None
        if isinstance(summary, dict):
            run.summary = summary
            run.has_summary = True
    overrides = read_yaml(hydra_dir / "overrides.yaml")
    if not isinstance(overrides, list):
        overrides = run.summary.get("overrides") or []
    run.overrides = [str(o) for o in overrides]
    run.override_map = dict(kv for kv in map(override_key, run.overrides) if kv)
    run.history = read_metrics_csv(run_dir / "metrics.csv")
    run.preview_audio, run.preview_image = _final_previews(run_dir)
    if (run_dir / FINAL_PREVIEW_DIR).is_dir():
        grids = (run_dir / FINAL_PREVIEW_DIR).glob("grid_*.png")
        run.preview_grids = sorted(grids, key=lambda p: natural_key(p.name))
    hydra_cfg = read_yaml(hydra_dir / "hydra.yaml")
    run.kind = run_kind(run.summary, run.override_map, hydra_cfg)

    if run.has_summary:
        run.status = str(run.summary.get("status") or "unknown")
        error = run.summary.get("error")
        run.error = str(error).strip().splitlines()[-1] if error else None
        if run.status == "failed" and not run.error:
            run.error = job_log_error(run_dir, hydra_cfg)
    else:
        run.status = "failed"
        run.error = job_log_error(run_dir, hydra_cfg) or "no summary"
    return run


def collect_runs(paths: list[Path]) -> list[RunRecord]:
    """Load every run under ``paths`` (multirun folders or run folders), in order.

    Raises ReportError for a path that does not exist or holds no run folders. Names are made
    unique (``<parent>/<job>``) when several multiruns share job numbers; labels leave out the
    overrides shared by every run of the same kind.
    """
    runs: list[RunRecord] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise ReportError(f"{path}: no such file or directory")
        if not path.is_dir():
            raise ReportError(f"{path}: not a directory")
        run_dirs = find_run_dirs(path)
        if not run_dirs:
            raise ReportError(f"{path}: no run folders found (expected .hydra/ or job folders)")
        for run_dir in run_dirs:
            if run_dir.resolve() not in seen:
                seen.add(run_dir.resolve())
                runs.append(load_run(run_dir))
    for kind in (VQVAE, PRIOR):
        same = [r for r in runs if r.kind == kind]
        if len(same) > 1:
            shared = set.intersection(*(set(r.overrides) for r in same))
            for run in same:
                run.label_overrides = [o for o in run.overrides if o not in shared]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        for run in runs:
            run.name = f"{run.path.parent.name}/{run.path.name}"
    return runs
