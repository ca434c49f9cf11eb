"""The runs a studio serves: VQ-VAE, prior and vocoder run folders found under ``runs=``, read
by the report (:func:`rvqvae.report.runs.collect_runs`), with the links between them."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvqvae.report.aggregate import fmt_status
from rvqvae.report.priors import unigram_ratio
from rvqvae.report.runs import PRIOR, PRIOR_VQVAE_KEY, ReportError, RunRecord, collect_runs
from rvqvae.studio.safety import Roots

log = logging.getLogger(__name__)

VOCODER = "vocoder"
KINDS = ("vqvae", PRIOR, VOCODER)
BEST = Path("checkpoints") / "best.ckpt"

# Runs table: (header, gradio datatype); numbers stay numbers so the columns sort as numbers.
COLUMNS: list[tuple[str, str]] = [
    ("kind", "str"),
    ("folder", "str"),
    ("linked", "str"),
    ("bit/s", "number"),
    ("val/norm_l1", "number"),
    ("prior val bit/s", "number"),
    ("x unigram", "number"),
    ("vocoder val/loss", "number"),
    ("epochs", "number"),
    ("train s", "number"),
    ("status", "str"),
    ("overrides", "str"),
]


@dataclass
class Run:
    """One run folder: its kind, the report's record, and the VQ-VAE run it belongs to."""

    kind: str
    record: RunRecord
    vqvae: Path | None = None  # the VQ-VAE run folder a prior or vocoder was trained on
    linked: list[Path] = field(default_factory=list)  # priors and vocoders of a VQ-VAE run

    @property
    def path(self) -> Path:
        return self.record.path.resolve()

    @property
    def checkpoint(self) -> Path:
        return self.path / BEST

    @property
    def usable(self) -> bool:
        """A finished run with a best checkpoint."""
        return self.record.status == "completed" and self.checkpoint.is_file()


def _kind(record: RunRecord) -> str:
    kind = record.summary.get("kind")
    return str(kind) if kind in KINDS else record.kind


def _vqvae_of(record: RunRecord) -> Path | None:
    """The VQ-VAE run folder a prior or vocoder names (summary, else its ``vqvae=`` override)."""
    value = record.summary.get("vqvae_run_dir") or record.override_map.get(PRIOR_VQVAE_KEY)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if path.suffix == ".ckpt":
        path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not path.is_absolute():
        path = record.path / path if (record.path / path).exists() else Path.cwd() / path
    return path.resolve()


class Catalog:
    """Every run under ``folders`` (each searched like ``python -m rvqvae.report``)."""

    def __init__(self, folders: list[str | os.PathLike[str]]) -> None:
        self.folders = [Path(f).expanduser().resolve() for f in folders]
        self.notes: list[str] = []
        self.runs: list[Run] = []
        self.refresh()

    def refresh(self) -> None:
        """Read the folders again (a run that finished since shows its figures)."""
        records: list[RunRecord] = []
        self.notes = []
        for folder in self.folders:
            try:
                records += collect_runs([folder])
            except ReportError as exc:
                self.notes.append(str(exc))
        runs = [Run(_kind(r), r) for r in records]
        by_path = {r.path: r for r in runs}
        for run in runs:
            if run.kind != "vqvae":
                run.vqvae = _vqvae_of(run.record)
                if run.vqvae in by_path:
                    by_path[run.vqvae].linked.append(run.path)
        self.runs = runs

    def roots(self) -> Roots:
        return Roots.of(self.folders)

    def of_kind(self, kind: str, usable: bool = True) -> list[Run]:
        return [r for r in self.runs if r.kind == kind and (r.usable or not usable)]

    def get(self, path: str | os.PathLike[str], kind: str | None = None) -> Run:
        """The run at ``path`` (as the page lists it); KeyError names what is missing."""
        real = Path(path).expanduser().resolve()
        for run in self.runs:
            if run.path == real and (kind is None or run.kind == kind):
                return run
        raise KeyError(f"{path}: not a {kind or ''} run this studio lists".replace("  ", " "))

    def choices(self, kind: str) -> list[tuple[str, str]]:
        """Dropdown choices ``(label, folder)`` of the usable runs of ``kind``."""
        return [(self.label(r), str(r.path)) for r in self.of_kind(kind)]

    def label(self, run: Run) -> str:
        return f"{self.short(run.path)}  [{run.record.label}]"

    def short(self, path: Path | None) -> str:
        """``path`` relative to the runs folder that holds it (else its last two parts)."""
        if path is None:
            return ""
        for folder in self.folders:
            if path == folder or folder in path.parents:
                rel = path.relative_to(folder).as_posix()
                return f"{folder.name}/{rel}" if rel != "." else folder.name
        return "/".join(path.parts[-2:])

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of the runs table (the report's figures, numbers as numbers)."""
        rows = []
        for run in self.runs:
            r = run.record
            links = run.linked if run.kind == "vqvae" else [run.vqvae]
            linked = [self.short(p) for p in links]
            epochs = r.metric("epochs")
            rows.append(
                [
                    run.kind,
                    self.short(run.path),
                    ", ".join(x for x in linked if x),
                    _num(r.metric("bitrate_bps") if run.kind == "vqvae" else None, 0),
                    _num(r.metric("val/norm_l1") if run.kind == "vqvae" else None, 4),
                    _num(r.metric("val/bits_per_s") if run.kind == PRIOR else None, 1),
                    _num(unigram_ratio(r) if run.kind == PRIOR else None, 3),
                    _num(r.metric("val/loss") if run.kind == VOCODER else None, 4),
                    _num(epochs, 0),
                    _num(r.train_seconds(), 0),
                    fmt_status(r),
                    " ".join(r.overrides),
                ]
            )
        return [c for c, _ in COLUMNS], rows


def _num(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
