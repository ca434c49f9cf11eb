"""Prior runs (``python -m rvqvae.train_prior``): what they measured, per-run and per-seed tables.

The numbers come from a prior run's summary.json (``kind: "prior"``), else the last row of its
metrics.csv: ``val/bits_per_s`` overall and per level (``val/bits_per_s/level_K``),
``raw_bits_per_s`` (the VQ-VAE's bitrate), ``unigram_bits_per_s``, Fréchet distances of log-mel
frame statistics (``fd_prior``, ``fd_unigram``, ``fd_reconstruction``), memorisation checks
(``longest_copy_s``, ``nn_distance_*``) and the VQ-VAE it models (``num_quantizers``,
``codebook_size``, ``vqvae_norm_l1``). :func:`prior_window_table` shows the figures that see
time (``wfd_*``, ``c2st_*``, ``coverage_*``, activity; :mod:`rvqvae.prior.temporal`) for the
prior's samples beside their reference rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rvqvae.report.aggregate import (
    MISSING,
    Getter,
    SeedGroup,
    Table,
    fmt_duration,
    fmt_float,
    fmt_mean_std,
    fmt_status,
    group_values,
    swept_keys,
)
from rvqvae.report.folders import as_float
from rvqvae.report.runs import PRIOR_VQVAE_KEY, RunRecord, short_run_path

_LEVEL_COLUMN = re.compile(r"val/bits_per_s/level_(\d+)")
# (column name, summary key suffix) of the sets in the windowed table
_SETS = [
    ("prior", "prior"),
    ("unigram", "unigram"),
    ("recon", "reconstruction"),
    ("train", "train"),
    ("shuffled", "shuffled"),
]
_ACTIVITY_SETS = [("prior", "prior"), ("val", "validation"), ("train", "train")]

PRIOR_NOTE = (
    "Bits per second of the VQ-VAE's codes under each model, on the validation files: "
    "`val bits/s` = the prior (cross-entropy), `Lk bits/s` = level k's share, "
    "`raw bits/s` = without a model (positions/s x levels x log2 codebook size), "
    "`unigram bits/s` = code frequencies alone; `val/unigram` < 1: the prior beats the unigram. "
    "`FD` = Fréchet distance of log-mel frame statistics vs the validation files for prior "
    "samples, unigram samples and VQ-VAE reconstructions. `longest copy s`, `NN dist gen` and "
    "`NN dist val` are the run's memorisation checks (`longest_copy_s`, `nn_distance_generated`, "
    "`nn_distance_validation`). `VQ-VAE` = levels x codebook size."
)


def prior_levels(run: RunRecord) -> int:
    """Number of RVQ levels the prior models (summary, per-level list or metrics.csv columns)."""
    levels = as_float(run.summary.get("num_quantizers"))
    count = int(levels) if levels is not None and levels > 0 else 0
    per_level = run.summary.get("val/bits_per_s_per_level")
    if isinstance(per_level, list):
        count = max(count, len(per_level))
    for row in run.history:
        for key in row:
            m = _LEVEL_COLUMN.fullmatch(key)
            if m:
                count = max(count, int(m.group(1)) + 1)
    return count


def level_bits(run: RunRecord, level: int) -> float | None:
    """Validation bits/s of one level (summary list, else the metrics.csv column)."""
    per_level = run.summary.get("val/bits_per_s_per_level")
    if isinstance(per_level, list) and level < len(per_level):
        value = as_float(per_level[level])
        if value is not None:
            return value
    return run.metric(f"val/bits_per_s/level_{level}")


def unigram_ratio(run: RunRecord) -> float | None:
    """val/bits_per_s divided by unigram_bits_per_s (below 1: the prior beats the unigram)."""
    val, unigram = run.metric("val/bits_per_s"), run.metric("unigram_bits_per_s")
    if val is None or not unigram:
        return None
    return val / unigram


def vqvae_setting(run: RunRecord) -> str:
    """The modelled VQ-VAE as ``levels x codebook size``, e.g. ``3x128``."""
    levels, size = run.metric("num_quantizers"), run.metric("codebook_size")
    if levels is None or size is None:
        return MISSING
    return f"{levels:.0f}x{size:.0f}"


def prior_value(run: RunRecord, key: str) -> str:
    """A swept value for the Priors table; the VQ-VAE path is shortened to its last folders."""
    value = run.value_of(key)
    if value is None:
        return MISSING
    return short_run_path(value) if key == PRIOR_VQVAE_KEY else value


@dataclass(frozen=True)
class RatePoint:
    """A prior run in the reconstruction vs bits/s plot."""

    run: RunRecord
    label: str  # the VQ-VAE's levels x codebook size
    bits_per_s: float  # the prior's val/bits_per_s
    norm_l1: float  # the VQ-VAE's final val/norm_l1
    raw_bits_per_s: float | None  # the VQ-VAE's bitrate without a prior


def recon_rate_points(runs: list[RunRecord]) -> tuple[list[RatePoint], list[RunRecord]]:
    """(points, runs left out): one point per prior run with val/bits_per_s and
    vqvae_norm_l1 (a VQ-VAE run without validation has a null vqvae_norm_l1)."""
    drawn, left_out = [], []
    for run in runs:
        x, y = run.metric("val/bits_per_s"), run.metric("vqvae_norm_l1")
        if x is None or y is None:
            left_out.append(run)
        else:
            drawn.append(RatePoint(run, vqvae_setting(run), x, y, run.metric("raw_bits_per_s")))
    return drawn, left_out


def max_prior_levels(runs: list[RunRecord]) -> int:
    """Largest number of levels across prior runs."""
    return max((prior_levels(r) for r in runs), default=0)


# (title, getter, digits) of the per-run and mean ± std columns; per-level columns follow
# the first one (val bits/s).
PRIOR_METRICS: list[tuple[str, Getter, int]] = [
    ("val bits/s", lambda r: r.metric("val/bits_per_s"), 1),
    ("raw bits/s", lambda r: r.metric("raw_bits_per_s"), 1),
    ("unigram bits/s", lambda r: r.metric("unigram_bits_per_s"), 1),
    ("val/unigram", unigram_ratio, 3),
    ("FD prior", lambda r: r.metric("fd_prior"), 3),
    ("FD unigram", lambda r: r.metric("fd_unigram"), 3),
    ("FD recon", lambda r: r.metric("fd_reconstruction"), 3),
    ("longest copy s", lambda r: r.metric("longest_copy_s"), 2),
    ("NN dist gen", lambda r: r.metric("nn_distance_generated"), 3),
    ("NN dist val", lambda r: r.metric("nn_distance_validation"), 3),
]


def _metric_columns(levels: int) -> list[tuple[str, Getter, int]]:
    per_level: list[tuple[str, Getter, int]] = [
        (f"L{k} bits/s", _level_getter(k), 1) for k in range(levels)
    ]
    return [PRIOR_METRICS[0], *per_level, *PRIOR_METRICS[1:]]


def _level_getter(level: int) -> Callable[[RunRecord], float | None]:
    return lambda run: level_bits(run, level)


def prior_table(runs: list[RunRecord], swept: list[str] | None = None) -> Table:
    """One row per prior run: swept values, VQ-VAE, bits/s (overall, per level, raw,
    unigram, ratio), Fréchet distances, memorisation checks, train time, status."""
    swept = swept_keys(runs) if swept is None else swept
    columns = _metric_columns(max_prior_levels(runs))
    headers = ["run", *swept, "VQ-VAE", "VQ-VAE norm_l1"]
    headers += [title for title, _, _ in columns] + ["train time", "status"]
    table = Table(headers)
    for run in runs:
        row = [run.label, *(prior_value(run, k) for k in swept)]
        row += [vqvae_setting(run), fmt_float(run.metric("vqvae_norm_l1"))]
        row += [fmt_float(get(run), digits) for _, get, digits in columns]
        row += [fmt_duration(run.train_seconds()), fmt_status(run)]
        table.rows.append(row)
    return table


def prior_seed_table(groups: list[SeedGroup]) -> Table:
    """One row per prior configuration: params, seeds, n completed, mean ± std of each metric."""
    params = list(groups[0].params) if groups else []
    levels = max((max_prior_levels(g.runs) for g in groups), default=0)
    columns = [*_metric_columns(levels), ("train_seconds", RunRecord.train_seconds, 1)]
    table = Table([*params, "seeds", "n", *(title for title, _, _ in columns)])
    for group in groups:
        completed = [r for r in group.runs if r.status == "completed"]
        row = [
            short_run_path(group.params[p]) if p == PRIOR_VQVAE_KEY else group.params[p]
            for p in params
        ]
        row += [",".join(group.seeds), f"{len(completed)}/{len(group.runs)}"]
        row += [fmt_mean_std(group_values(group, get), digits) for _, get, digits in columns]
        table.rows.append(row)
    return table


WINDOW_NOTE = (
    "Prior samples against the validation files over ~1 s log-mel windows, beside reference "
    "rows: `train` = the training files (real vs real), `recon` = VQ-VAE reconstructions, "
    "`unigram` = unigram samples, `shuffled` = validation with its frames shuffled in time. "
    "`wFD` = Fréchet distance of window features (lower is closer; it falls with more "
    "windows), `wFD∞` = the same extrapolated to infinitely many distinct windows (free of that "
    "bias, so sets of different sizes compare), `2ST` = cross-validated "
    "accuracy of a classifier telling the set from validation (0.5 = indistinguishable), "
    "`coverage` (prdc: share of validation windows with a generated neighbour), `silent` = "
    "near-silent frame fraction, `onsets/s`."
)

# (title, summary key, digits) of the windowed table
WINDOW_COLUMNS: list[tuple[str, str, int]] = [
    *((f"wFD {name}", f"wfd_{key}", 1) for name, key in _SETS),
    *((f"wFD∞ {name}", f"wfd_inf_{key}", 1) for name, key in _SETS),
    *((f"2ST {name}", f"c2st_{key}", 3) for name, key in _SETS),
    ("coverage prior", "coverage_prior", 3),
    ("coverage train", "coverage_train", 3),
    *((f"silent {name}", f"silent_fraction_{key}", 3) for name, key in _ACTIVITY_SETS),
    *((f"onsets/s {name}", f"onsets_per_s_{key}", 2) for name, key in _ACTIVITY_SETS),
]


def prior_window_table(runs: list[RunRecord]) -> Table:
    """One row per prior run with windowed figures (:data:`WINDOW_COLUMNS`)."""
    table = Table(["run", *(title for title, _, _ in WINDOW_COLUMNS)])
    for run in runs:
        cells = [fmt_float(run.metric(key), digits) for _, key, digits in WINDOW_COLUMNS]
        table.rows.append([run.label, *cells])
    return table
