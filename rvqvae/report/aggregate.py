"""Swept parameters, per-run table rows and mean ± std across seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from rvqvae.report.runs import RunRecord

MISSING = "—"

Getter = Callable[[RunRecord], float | None]


def is_seed_key(key: str) -> bool:
    """``seed``, ``+seed`` or any ``<group>.seed`` override key."""
    return key.lstrip("+").split(".")[-1] == "seed"


def swept_keys(runs: list[RunRecord]) -> list[str]:
    """Override keys whose value differs across runs (or is missing in some), in first-seen order.

    A key overridden in only some runs compares against the composed config value of the others.
    """
    keys: list[str] = []
    for run in runs:
        for key in run.override_map:
            if key not in keys:
                keys.append(key)
    return [k for k in keys if len({run.value_of(k) for run in runs}) > 1]


def common_overrides(runs: list[RunRecord]) -> list[str]:
    """Overrides shared by every run (shown once above the table); none for a single run."""
    if len(runs) < 2:
        return []
    shared = set(runs[0].overrides)
    for run in runs[1:]:
        shared &= set(run.overrides)
    return [o for o in runs[0].overrides if o in shared]


# ---------------------------------------------------------------------------------------------
# formatting


def fmt_float(value: float | None, digits: int = 4) -> str:
    """``0.123456`` -> ``0.1235``; None -> ``—``."""
    return MISSING if value is None else f"{value:.{digits}f}"


def fmt_bitrate(value: float | None) -> str:
    """Bit/s rounded to an integer: ``1008``."""
    return MISSING if value is None else f"{value:.0f}"


def fmt_duration(seconds: float | None) -> str:
    """``42.0s``, ``12m05s`` or ``1h02m``."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(round(seconds))
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{(total % 3600) // 60:02d}m"


def fmt_level(stats: dict[str, float | None]) -> str:
    """``utilization/perplexity/dead_codes`` as ``0.82/51.3/12``."""
    if all(v is None for v in stats.values()):
        return MISSING
    util, perp, dead = stats.get("utilization"), stats.get("perplexity"), stats.get("dead_codes")
    return "/".join(
        [
            MISSING if util is None else f"{util:.2f}",
            MISSING if perp is None else f"{perp:.1f}",
            MISSING if dead is None else f"{dead:.0f}",
        ]
    )


def fmt_status(run: RunRecord) -> str:
    """``completed``, or ``failed: <error line>`` (truncated to 200 characters)."""
    if run.error and run.status != "completed":
        error = run.error if len(run.error) <= 200 else run.error[:197] + "..."
        return f"{run.status}: {error}"
    return run.status


def fmt_mean_std(values: list[float], digits: int = 4) -> str:
    """``mean ± std`` (sample std, ddof=1); a single value is shown alone."""
    if not values:
        return MISSING
    mean, std = mean_std(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


# ---------------------------------------------------------------------------------------------
# tables


@dataclass
class Table:
    """A plain table: headers and string cells (rendered to Markdown and HTML)."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def max_levels(runs: list[RunRecord]) -> int:
    """Largest number of RVQ levels across runs."""
    return max((r.num_levels() for r in runs), default=0)


# What a run sounds like (summary.json of runs with evaluation.perceptual on).
PERCEPTUAL_COLUMNS = ("val/visqol", "val/visqol_ceiling", "val/lsd")


def has_perceptual(runs: list[RunRecord]) -> bool:
    """True when some run has the end-of-training ViSQOL (``val/visqol``)."""
    return any(r.metric("val/visqol") is not None for r in runs)


def runs_table(runs: list[RunRecord], swept: list[str] | None = None) -> Table:
    """One row per run: name, swept values, bitrate, losses, per-level codebook stats, time."""
    swept = swept_keys(runs) if swept is None else swept
    levels = max_levels(runs)
    headers = ["run", *swept, "bitrate_bps", "val/recon_l1", "best val/recon_l1"]
    headers += ["best_epoch", "val/norm_l1"]
    heard = has_perceptual(runs)
    headers += list(PERCEPTUAL_COLUMNS) if heard else []
    headers += [f"L{k} util/ppl/dead" for k in range(levels)]
    headers += ["train time", "status"]
    table = Table(headers)
    for run in runs:
        best_epoch = run.best_epoch()
        row = [run.label]
        row += [run.value_of(k) or MISSING for k in swept]
        row += [
            fmt_bitrate(run.metric("bitrate_bps")),
            fmt_float(run.metric("val/recon_l1")),
            fmt_float(run.metric("best/val/recon_l1")),
            MISSING if best_epoch is None else str(best_epoch),
            fmt_float(run.metric("val/norm_l1")),
        ]
        row += [fmt_float(run.metric(k), 3) for k in PERCEPTUAL_COLUMNS] if heard else []
        row += [fmt_level(run.codebook_level(k)) for k in range(levels)]
        row += [fmt_duration(run.train_seconds()), fmt_status(run)]
        table.rows.append(row)
    return table


@dataclass
class SeedGroup:
    """Runs that share every swept value except the seed."""

    params: dict[str, str]
    runs: list[RunRecord]

    @property
    def seeds(self) -> list[str]:
        """The seeds of the group's runs, in run order."""
        out = []
        for run in self.runs:
            seed = next((v for k, v in run.override_map.items() if is_seed_key(k)), None)
            out.append(seed if seed is not None else (run.value_of("seed") or MISSING))
        return out


def seed_groups(runs: list[RunRecord]) -> list[SeedGroup]:
    """Group runs by their swept values minus the seed.

    Returns [] unless a seed key is swept and at least one configuration has several seeds.
    """
    swept = swept_keys(runs)
    seed_keys = [k for k in swept if is_seed_key(k)]
    if not seed_keys:
        return []
    params = [k for k in swept if not is_seed_key(k)]
    groups: dict[tuple[str | None, ...], SeedGroup] = {}
    for run in runs:
        key = tuple(run.value_of(k) for k in params)
        if key not in groups:
            groups[key] = SeedGroup({k: v or MISSING for k, v in zip(params, key)}, [])
        groups[key].runs.append(run)
    result = list(groups.values())
    return result if any(len(g.runs) > 1 for g in result) else []


# (title, getter, digits) of the aggregated metrics; completed runs only.
AGG_METRICS: list[tuple[str, Getter, int]] = [
    ("bitrate_bps", lambda r: r.metric("bitrate_bps"), 0),
    ("val/recon_l1", lambda r: r.metric("val/recon_l1"), 4),
    ("best val/recon_l1", lambda r: r.metric("best/val/recon_l1"), 4),
    ("val/norm_l1", lambda r: r.metric("val/norm_l1"), 4),
    ("train_seconds", lambda r: r.train_seconds(), 1),
]
PERCEPTUAL_AGG: list[tuple[str, Getter, int]] = [
    ("val/visqol", lambda r: r.metric("val/visqol"), 3),
    ("val/lsd", lambda r: r.metric("val/lsd"), 3),
]


def group_values(group: SeedGroup, getter: Getter) -> list[float]:
    """Finite values of one metric over the group's completed runs."""
    values = []
    for run in group.runs:
        if run.status != "completed":
            continue
        value = getter(run)
        if value is not None and math.isfinite(value):
            values.append(value)
    return values


def seed_table(groups: list[SeedGroup]) -> Table:
    """One row per configuration: params, seeds, n completed, mean ± std of each metric."""
    params = list(groups[0].params) if groups else []
    levels = max((max_levels(g.runs) for g in groups), default=0)
    metrics = AGG_METRICS + (PERCEPTUAL_AGG if any(has_perceptual(g.runs) for g in groups) else [])
    headers = [*params, "seeds", "n"] + [title for title, _, _ in metrics]
    headers += [f"L{k} utilization" for k in range(levels)]
    table = Table(headers)
    for group in groups:
        completed = [r for r in group.runs if r.status == "completed"]
        row = [group.params[p] for p in params]
        row += [",".join(group.seeds), f"{len(completed)}/{len(group.runs)}"]
        row += [fmt_mean_std(group_values(group, get), digits) for _, get, digits in metrics]
        for k in range(levels):
            util = group_values(group, lambda r, k=k: r.codebook_level(k)["utilization"])
            row.append(fmt_mean_std(util, 2))
        table.rows.append(row)
    return table
