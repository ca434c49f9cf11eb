"""Run every benchmark, write ``benchmarks/results.json`` (flat keys) and print the table.

    .venv/bin/python benchmarks/run_all.py [--only SECTION,...]

Sections (default order): train, data, startup, sweep, codec, prior, export, e2e, gpu,
gpu_sweep; the GPU ones skip without CUDA. ``precision`` (bf16 vs fp32 whole default runs over
3 seeds, about 30 min on 2 cores) runs only when named.

About 15 minutes on an idle 2-core machine, 10 of them the ``e2e`` section (the default run,
the bare step around it, the CPU step options with a compile). Each section records the load
average next to its figures: on a shared machine compare ratios measured in the same run, not
absolute rates.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, load_average, machine_info  # noqa: E402

# section -> benchmark module (each has run() -> flat dict of figures)
MODULES = {
    "train": "train_step",
    "data": "data_load",
    "startup": "startup",
    "sweep": "sweep",
    "codec": "codec",
    "prior": "prior",
    "export": "export",
    "e2e": "end_to_end",
    "gpu": "gpu",
    "gpu_sweep": "gpu_sweep",
    "precision": "precision",
}
SECTIONS = tuple(name for name in MODULES if name != "precision")  # the default run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    wanted = [s for s in args.only.split(",") if s]
    results: dict = {
        **machine_info(),
        "machine.date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    started = time.perf_counter()
    for name in wanted:
        t = time.perf_counter()
        print(f"== {name}  [load {load_average()}]", flush=True)
        if name not in MODULES:
            raise SystemExit(f"unknown section {name!r} (choose from {', '.join(MODULES)})")
        results.update(importlib.import_module(MODULES[name]).run())
        results[f"{name}.bench_seconds"] = time.perf_counter() - t
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    results["machine.load_average_end"] = load_average()
    results["machine.bench_seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    from table import markdown

    print()
    print(markdown(results))
    print(f"\nwrote {args.out} in {results['machine.bench_seconds']:.0f} s")


if __name__ == "__main__":
    main()
