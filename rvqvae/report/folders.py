"""Run folders on disk: finding them, reading their YAML/CSV/log files, relative links."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml

_MAX_DEPTH = 3
# Hydra's log prefix: ``[2024-05-01 12:00:00,123][rvqvae.train][ERROR] - ``.
_LOG_PREFIX = re.compile(r"^(\[[^\]]*\])+\s*-\s*")


def as_float(value: Any) -> float | None:
    """A float from a number or numeric string; None, bools, other strings and NaN -> None."""
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


def read_yaml(path: Path) -> Any:
    """Parsed YAML, or None when the file is missing or malformed."""
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
                    value = as_float(cell) if key is not None and cell not in (None, "") else None
                    if value is not None:
                        row[key] = value
                if row:
                    rows.append(row)
    except (OSError, csv.Error):
        return rows
    return rows


def job_log_error(run_dir: Path, hydra_cfg: Any) -> str | None:
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


def relpath(target: Path, start: Path) -> str:
    """POSIX relative path from folder ``start`` to ``target`` (for links in the reports)."""
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
