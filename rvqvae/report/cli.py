"""Command line: ``python -m rvqvae.report PATH... [--out DIR] [--title T] [--wandb --group G]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rvqvae.report.runs import ReportError, RunRecord, find_run_dirs, is_run_dir

PROG = "python -m rvqvae.report"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for --help and tests)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Compare Hydra runs: local report.md/report.html (offline) and, with "
        "--wandb, a W&B Report for a run group.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="multirun folders (job subfolders with .hydra/) or single run folders",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: the PATH itself when one PATH is given, "
        "else <common parent of the PATHs>/report)",
    )
    p.add_argument("--title", default=None, help="report title")
    w = p.add_argument_group("W&B report")
    w.add_argument("--wandb", action="store_true", help="also build the W&B comparison Report")
    w.add_argument(
        "--group",
        default=None,
        help="W&B run group (default with one multirun PATH: <date>_<time>, the group "
        "rvqvae.train gives a sweep's runs)",
    )
    w.add_argument(
        "--entity",
        default=None,
        help="W&B entity (default: the runs' logger.wandb.entity, WANDB_ENTITY, yours)",
    )
    w.add_argument(
        "--project",
        default=None,
        help="W&B project (default: the runs' logger.wandb.project, WANDB_PROJECT, 'rvqvae')",
    )
    w.add_argument(
        "--params",
        default=None,
        help="comma-separated config keys for the parallel-coordinates plot "
        "(default: the swept keys of the PATHs, else codebook/levels/lr)",
    )
    w.add_argument("--media-key", default=None, help="W&B media key of the preview audio")
    w.add_argument(
        "--prior-levels",
        type=int,
        default=None,
        metavar="N",
        help="add the Priors panels (per-level bits/s for N levels); default: the PATHs' "
        "prior runs tell whether and how many",
    )
    w.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds allowed for the whole exchange with W&B",
    )
    return p


def default_out_dir(paths: Sequence[Path]) -> Path:
    """One PATH: the PATH itself; several: ``<common parent>/report``."""
    if len(paths) == 1:
        return paths[0]
    resolved = [str(p.resolve()) for p in paths]
    return Path(os.path.commonpath(resolved)) / "report"


def default_group(path: Path) -> str | None:
    """The W&B group rvqvae.train uses for a multirun folder: ``<date>_<time>``."""
    path = path.resolve()
    if (path / "multirun.yaml").is_file() or (path.is_dir() and not is_run_dir(path)):
        return f"{path.parent.name}_{path.name}"
    return None


def default_title(paths: Sequence[Path]) -> str:
    """``RVQ-VAE comparison: <date>/<time>`` for one PATH, else the number of sweeps."""
    if len(paths) == 1:
        path = paths[0].resolve()
        return f"RVQ-VAE comparison: {path.parent.name}/{path.name}"
    return f"RVQ-VAE comparison of {len(paths)} sweeps"


def parallel_params(runs: list[RunRecord]) -> list[str]:
    """Parallel-coordinates axes: the swept keys (seed aside) that are plain values in the
    runs' config (W&B logs the config, not Hydra's group choices such as ``model=rvq4``);
    :data:`DEFAULT_PARAMS` when none is."""
    from rvqvae.report.aggregate import is_seed_key, swept_keys
    from rvqvae.report.wandb_panels import DEFAULT_PARAMS

    def in_config(run: RunRecord, key: str) -> bool:
        node: Any = run.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return not isinstance(node, (dict, list))

    keys = [k for k in swept_keys(runs) if not is_seed_key(k)]
    return [k for k in keys if any(in_config(r, k) for r in runs)] or list(DEFAULT_PARAMS)


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 W&B-only request failed, 2 usage error)."""
    args = build_parser().parse_args(argv)
    paths: list[Path] = list(args.paths)
    if not paths and not args.wandb:
        return _error("give at least one PATH (or --wandb --group NAME)")
    for path in paths:  # validate every PATH before any heavy import or writing
        if not path.exists():
            return _error(f"{path}: no such file or directory")
        if not path.is_dir() or not find_run_dirs(path):
            return _error(f"{path}: no run folders found (expected .hydra/ or job folders)")
    if args.prior_levels is not None and args.prior_levels < 0:
        return _error("--prior-levels must be >= 0")
    group = args.group or (default_group(paths[0]) if len(paths) == 1 else None)
    if args.wandb and not group:
        return _error("--wandb needs --group NAME")

    runs = []
    if paths:
        from rvqvae.report.local import write_local_report
        from rvqvae.report.runs import collect_runs

        out_dir = args.out or default_out_dir(paths)
        try:
            runs = collect_runs(paths)
            md_path, html_path = write_local_report(
                runs, out_dir, title=args.title or default_title(paths)
            )
        except (ReportError, OSError) as e:
            return _error(" ".join(str(e).split()))
        print(f"Wrote {md_path} and {html_path.name} ({len(runs)} runs)")

    if args.wandb:
        from rvqvae.report.priors import max_prior_levels
        from rvqvae.report.wandb_report import DEFAULT_MEDIA_KEY, publish_wandb_report

        vqvae_runs = [r for r in runs if not r.is_prior and not r.is_vocoder]
        prior_runs = [r for r in runs if r.is_prior]
        vocoder_runs = [r for r in runs if r.is_vocoder]
        if args.params:
            params = [p.strip() for p in args.params.split(",") if p.strip()]
        else:
            params = parallel_params(vqvae_runs)
        prior_levels = args.prior_levels
        if prior_levels is None and prior_runs:
            prior_levels = max_prior_levels(prior_runs)
        # entity / project: the flags, else what the runs logged to (conf/logger/wandb.yaml)
        entity, project = args.entity, args.project
        if runs:
            entity = entity or runs[0].value_of("logger.wandb.entity")
            project = project or runs[0].value_of("logger.wandb.project")
        url = publish_wandb_report(
            group,
            entity=entity,
            project=project,
            params=params,
            media_key=args.media_key or DEFAULT_MEDIA_KEY,
            title=args.title,
            timeout=args.timeout,
            vqvae=not runs or bool(vqvae_runs),
            prior_levels=prior_levels,
            vocoders=bool(vocoder_runs),
        )
        if url is None and not paths:
            return 1
    return 0
