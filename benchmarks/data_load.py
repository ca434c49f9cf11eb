"""Data pipeline load times: cold (empty cache) vs warm, and the first mel call.

    .venv/bin/python benchmarks/data_load.py [--keep DIR]

Each measurement runs in a fresh subprocess (imports are timed separately, not included in
the load figures). "x real time" = seconds of audio loaded per second of wall clock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEASURE = """
import json, sys, time
t0 = time.perf_counter()
from rvqvae.data.datamodule import MelDataModule
t1 = time.perf_counter()
dm = MelDataModule(path=sys.argv[1], cache_dir=sys.argv[2])
dm.setup()
t2 = time.perf_counter()
frames = dm.train_chunks.shape[0] + dm.val_chunks.shape[0]
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "chunks": frames,
                  "stats": dm.cache_stats}))
"""

FIRST_MEL = """
import json, time
t0 = time.perf_counter()
import numpy as np
from rvqvae.data.mel import audio_to_mel
t1 = time.perf_counter()
audio_to_mel(np.zeros(48000, np.float32))
t2 = time.perf_counter()
audio_to_mel(np.zeros(48000, np.float32))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1, "second_s": t3 - t2}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _audio_seconds(folder: Path) -> float:
    import soundfile as sf

    return sum(sf.info(p).duration for p in folder.glob("*.wav"))


def bench(name: str, folder: Path, cache: Path, warm_repeats: int = 1) -> dict[str, float]:
    """Cold then warm load of ``folder`` (fresh processes); prints and returns x real time."""
    seconds = _audio_seconds(folder)
    cold = _run(MEASURE, str(folder), str(cache))
    warms = [_run(MEASURE, str(folder), str(cache)) for _ in range(warm_repeats)]
    warm = min(warms, key=lambda r: r["load_s"])
    assert warm["stats"]["misses"] == 0, warm
    for label, r in (("cold", cold), ("warm", warm)):
        print(
            f"{name:28s} {label}: {r['load_s']:7.3f} s for {seconds:6.1f} s of audio = "
            f"{seconds / r['load_s']:8.0f}x real time  ({r['chunks']} chunks, "
            f"import {r['import_s']:.2f} s)"
        )
    return {
        "audio_s": seconds,
        "cold_s": cold["load_s"],
        "warm_s": warm["load_s"],
        "cold_x_realtime": seconds / cold["load_s"],
        "warm_x_realtime": seconds / warm["load_s"],
        "import_s": cold["import_s"],
    }


def run(work: Path | None = None) -> dict[str, float]:
    """``data.*`` figures: 100 generated files x 5 s at 48 kHz, cold and warm; first mel."""
    from rvqvae.data.synth import generate_synth_dataset

    work = work or Path(tempfile.mkdtemp(prefix="rvqvae-bench-data-"))
    big = generate_synth_dataset(
        work / "synth100x5", num_files=100, seed=1, min_duration_s=5.0, max_duration_s=5.0
    )
    r = bench("100 files x 5 s @ 48 kHz", big, work / "cache-b", warm_repeats=2)
    first = _run(FIRST_MEL)
    return {
        "data.audio_s": r["audio_s"],
        "data.cold_s": r["cold_s"],
        "data.warm_s": r["warm_s"],
        "data.cold_x_realtime": r["cold_x_realtime"],
        "data.warm_x_realtime": r["warm_x_realtime"],
        "data.import_s": r["import_s"],
        "data.first_mel_s": first["first_s"],
        "data.first_mel_import_s": first["import_s"],
        "data.second_mel_s": first["second_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rvqvae-bench-"))
    from rvqvae.data.synth import generate_synth_dataset

    t = time.perf_counter()
    synth = generate_synth_dataset(work / "synth32", num_files=32, seed=0)
    print(f"synth generation (32 files): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    big = generate_synth_dataset(
        work / "synth100x5", num_files=100, seed=1, min_duration_s=5.0, max_duration_s=5.0
    )
    print(f"synth generation (100 x 5 s): {time.perf_counter() - t:.2f} s")

    bench("synth (32 files)", synth, work / "cache-a")
    bench("100 files x 5 s @ 48 kHz", big, work / "cache-b")
    first = _run(FIRST_MEL)
    print(
        f"first mel call in a fresh process: {first['first_s'] * 1e3:.0f} ms "
        f"(import rvqvae.data.mel + numpy {first['import_s'] * 1e3:.0f} ms, torch imported "
        f"lazily inside the first call; second call {first['second_s'] * 1e3:.1f} ms)"
    )


if __name__ == "__main__":
    main()
