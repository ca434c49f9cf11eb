"""Find Hydra run folders and parse what each job left behind (no W&B, no network)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FINAL_PREVIEW_DIR = Path("previews") / "final"
_MAX_DEPTH = 3
# Swept config keys whose resolved value summary.json records (.hydra/config.yaml may hold
# unresolved interpolations such as ``${rvqvae.tier:...}``).
_SUMMARY_PARAMS = {
    "model.codebook_dim": "codebook_dim",
    "model.codebook_size": "codebook_size",
    "model.num_quantizers": "num_quantizers",
    "seed": "seed",
}
# Hydra's log prefix: ``[2024-05-01 12:00:00,123][rvqvae.train][ERROR] - ``.
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\])+\s*-\s*")


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
    label_overrides: list[str] | None = None  # overrides shown in the label (default: all)

    @property
    def label(self) -> str:
        """Run name plus its overrides, e.g. ``0: model.codebook_dim=64``.

        collect_runs leaves out the overrides shared by every run it loaded.
        """
        shown = self.overrides if self.label_overrides is None else self.label_overrides
        return f"{self.name}: {' '.join(shown)}" if shown else self.name

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
        value = _as_float(self.summary.get(key))
        if value is not None:
            return value
        if key.startswith("best/"):
            _, ys = self.series(key[len("best/") :])
            return min(ys) if ys else None
        _, ys = self.series(key)
        return ys[-1] if ys else None

    def best_epoch(self) -> int | None:
        """Epoch of the best val/recon_l1 (summary.json first)."""
        if isinstance(self.summary.get("best_epoch"), int):
            return self.summary["best_epoch"]
        xs, ys = self.series("val/recon_l1")
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
            value = _as_float(stats.get(stat)) if isinstance(stats, dict) else None
            if value is None:
                _, ys = self.series(f"val/codebook/level_{level}/{stat}")
                value = ys[-1] if ys else None
            out[stat] = value
        return out

    def train_seconds(self) -> float | None:
        """Training wall time (summary, else the last ``time_s``)."""
        value = _as_float(self.summary.get("train_seconds"))
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


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that puts ``2`` before ``10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def override_key(override: str) -> tuple[str, str] | None:
    """``+model.x=3`` -> (``model.x``, ``3``); ``~key`` and malformed strings -> None."""
    if "=" not in override or override.startswith("~"):
        return None
    key, value = override.split("=", 1)
    return key.lstrip("+"), value


def is_run_dir(path: Path) -> bool:
    """True for a Hydra job folder (it has ``.hydra/``)."""
    return (path / ".hydra").is_dir()


def find_run_dirs(path: Path) -> list[Path]:
    """Run folders in ``path``: itself, its job subfolders, or (up to 3 levels) deeper."""
    if is_run_dir(path):
        return [path]
    is_sweep = (path / "multirun.yaml").is_file()
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(
                (c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")),
                key=lambda c: natural_key(c.name),
            )
        except OSError:
            return
        for child in children:
            if is_run_dir(child) or (is_sweep and depth == 1 and child.name.isdigit()):
                found.append(child)
            elif depth < _MAX_DEPTH:
                walk(child, depth + 1)

    walk(path, 1)
    return found


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    """Rows of metrics.csv as ``{column: float}``, empty or non-numeric cells dropped."""
    if not path.is_file():
        return []
    rows: list[dict[str, float]] = []
    try:
        with path.open(newline="") as f:
            for raw in csv.DictReader(f):
                row = {}
                for key, cell in raw.items():
                    value = _as_float(cell) if key is not None and cell not in (None, "") else None
                    if value is not None:
                        row[key] = value
                if row:
                    rows.append(row)
    except (OSError, csv.Error):
        return rows
    return rows


def _job_log_error(run_dir: Path, hydra_cfg: Any) -> str | None:
    """Last line containing "Error" in the job's log (``<job name>.log``, else any ``*.log``)."""
    job_name = None
    if isinstance(hydra_cfg, dict):
        job_name = (hydra_cfg.get("hydra", {}).get("job") or {}).get("name")
    candidates = [run_dir / f"{job_name}.log"] if job_name else []
    candidates += sorted(run_dir.glob("*.log"))
    for log in candidates:
        if not log.is_file():
            continue
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [_LOG_PREFIX.sub("", line.strip()) for line in lines if "Error" in line]
        if hits:
            return hits[-1]
    return None


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
    config = _read_yaml(hydra_dir / "config.yaml")
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
    overrides = _read_yaml(hydra_dir / "overrides.yaml")
    if not isinstance(overrides, list):
        overrides = run.summary.get("overrides") or []
    run.overrides = [str(o) for o in overrides]
    run.override_map = dict(kv for kv in map(override_key, run.overrides) if kv)
    run.history = read_metrics_csv(run_dir / "metrics.csv")
    run.preview_audio, run.preview_image = _final_previews(run_dir)

    if run.has_summary:
        run.status = str(run.summary.get("status") or "unknown")
        error = run.summary.get("error")
        run.error = str(error).strip().splitlines()[-1] if error else None
        if run.status == "failed" and not run.error:
            run.error = _job_log_error(run_dir, _read_yaml(hydra_dir / "hydra.yaml"))
    else:
        run.status = "failed"
        log_error = _job_log_error(run_dir, _read_yaml(hydra_dir / "hydra.yaml"))
        run.error = log_error or "no summary"
    return run


def collect_runs(paths: list[Path]) -> list[RunRecord]:
    """Load every run under ``paths`` (multirun folders or run folders), in order.

    Raises ReportError for a path that does not exist or holds no run folders. Names are made
    unique (``<parent>/<job>``) when several multiruns share job numbers.
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
    if len(runs) > 1:
        shared = set.intersection(*(set(r.overrides) for r in runs))
        for run in runs:
            run.label_overrides = [o for o in run.overrides if o not in shared]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        for run in runs:
            run.name = f"{run.path.parent.name}/{run.path.name}"
    return runs


def relpath(target: Path, start: Path) -> str:
    """POSIX relative path from folder ``start`` to ``target`` (for links in the reports)."""
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
