"""Run every benchmark, write ``benchmarks/results.json`` (flat keys) and print the table.

    .venv/bin/python benchmarks/run_all.py [--only SECTION,...]

Sections: train, data, startup, sweep, codec, prior, gpu, gpu_sweep (the GPU ones skip without
CUDA).

About 4-5 minutes on an idle 2-core machine. Each section records the load average next to its
figures: on a shared machine compare ratios measured in the same run, not absolute rates.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, load_average, machine_info  # noqa: E402

SECTIONS = ("train", "data", "startup", "sweep", "codec", "prior", "gpu", "gpu_sweep")


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
        if name == "train":
            import train_step

            results.update(train_step.run())
        elif name == "data":
            import data_load

            results.update(data_load.run())
        elif name == "startup":
            import startup

            results.update(startup.run())
        elif name == "sweep":
            import sweep

            results.update(sweep.run())
        elif name == "codec":
            import codec

            results.update(codec.run())
        elif name == "prior":
            import prior

            results.update(prior.run())
        elif name == "gpu":
            import gpu

            results.update(gpu.run())
        elif name == "gpu_sweep":
            import gpu_sweep

            results.update(gpu_sweep.run())
        else:
            raise SystemExit(f"unknown section {name!r} (choose from {', '.join(SECTIONS)})")
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
