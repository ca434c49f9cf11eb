"""The studio's targets: the page interactive within 5 s of start, and a 4 s generation's first
audio within the prior's sampling time + 1 s.

    .venv/bin/python benchmarks/studio.py --runs outputs/ [--starts 3] [--generations 3]
        [--importtime]

With no run folders at hand, the tests' tiny runs do (``pytest tests/studio
--basetemp=/tmp/studio_runs`` leaves them there): ``--runs /tmp/studio_runs/tiny_run
/tmp/studio_runs/tiny_prior /tmp/studio_runs/tiny_vocoder``.

- *start-up*: ``python -m rvqvae.studio runs=... port=P`` started as a user starts it, timed
  until the page (``/``) and its API description (``/gradio_api/info``) both answer: from then
  on the page is interactive (the models load in the background). Median of ``--starts``.
- *first audio*: one server, a ``gradio_client`` call of ``/generate`` (4 s, the prior's first
  run found, ``top_p`` 0.95, vocoder on) per seed; the time from submitting to the first
  streamed result holding audio, beside the sampling time the page reports for it. The first
  call (models loading) is reported apart from the warm ones.
- *imports* (``--importtime``): one more start under ``python -X importtime`` (``warm_up=false``)
  until the page answers: seconds of imports per top-level package (as ``-X importtime`` counts
  them, which slows imports down a little) and which of torch, Lightning,
  vector_quantize_pytorch, matplotlib were imported before the page answered (none should be).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, median, print_figures  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


HEAVY = ("torch", "lightning", "vector_quantize_pytorch", "matplotlib")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def start_server(
    runs: list[str],
    port: int,
    out: Path,
    extra: list[str],
    python: tuple[str, ...] = (),
    stderr: Any = subprocess.DEVNULL,
) -> subprocess.Popen:
    args = [f"runs=[{','.join(runs)}]", f"port={port}", f"hydra.run.dir={out}", *extra]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen(
        [sys.executable, *python, "-m", "rvqvae.studio", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def wait_interactive(port: int, started: float, timeout: float = 120) -> float:
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < timeout:
        if answers(f"{base}/") and answers(f"{base}/gradio_api/info"):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"the studio did not answer on port {port} within {timeout} s")


def import_breakdown(runs: list[str], out: Path, extra: list[str]) -> dict[str, Any]:
    """One start under ``-X importtime`` until the page answers: cumulative import seconds of
    each top-level package imported at the top level, and the heavy modules among them."""
    port, log = free_port(), out / "importtime.log"
    out.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        t0 = time.perf_counter()
        proc = start_server(
            runs, port, out / "run", [*extra, "warm_up=false"], ("-X", "importtime"), err
        )
        try:
            up = wait_interactive(port, t0)
        finally:
            proc.terminate()
            proc.wait(30)
    top: dict[str, float] = {}
    names: set[str] = set()
    total = 0.0
    for line in log.read_text().splitlines():
        m = IMPORT_LINE.match(line)
        if not m:
            continue
        own, cumulative, depth, name = int(m[1]), int(m[2]), len(m[3]) // 2, m[4]
        total += own / 1e6
        names.add(name)
        if depth == 0:
            root = name.split(".")[0]
            top[root] = top.get(root, 0.0) + cumulative / 1e6
    result: dict[str, Any] = {"imports: page answering s (under -X importtime)": up}
    result["imports: all s"] = total
    for root, seconds in sorted(top.items(), key=lambda kv: -kv[1])[:5]:
        result[f"imports: {root} s"] = seconds
    heavy = [h for h in HEAVY if h in names]
    result["imports: heavy before the page answered"] = ", ".join(heavy) or "none"
    return result


def first_audio(url: str, prior: str, seed: int) -> dict[str, float]:
    """Submit a 4 s generation; seconds to the first result with audio and the sampling time."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    t0 = time.perf_counter()
    job = client.submit(prior, 4, 1.0, 0, 0.95, seed, None, None, None, True, api_name="/generate")
    first = None
    for out in job:
        if first is None and out and out[0]:
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    notes = job.outputs()[-1][-1]
    sampling = float(re.search(r"codes drawn in ([\d.]+) s", notes).group(1))
    synthesis = float(re.search(r"synthesised in ([\d.]+) s", notes).group(1))
    written = float(re.search(r"written ([\d.]+) s after", notes).group(1))
    assert first is not None
    return {
        "first_audio_s": first,
        "sampling_s": sampling,
        "synthesis_s": synthesis,
        "written_s": written,
        "total_s": total,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", default=["outputs"], help="folders of run folders")
    p.add_argument("--starts", type=int, default=3)
    p.add_argument("--generations", type=int, default=3)
    p.add_argument("--extra", nargs="*", default=[], help="more studio overrides")
    p.add_argument("--importtime", action="store_true", help="also the start's imports")
    a = p.parse_args()
    runs = [str(Path(r).resolve()) for r in a.runs]
    results: dict[str, Any] = {"load_average_start": load_average()}
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        starts = []
        for i in range(a.starts):
            port = free_port()
            t0 = time.perf_counter()
            proc = start_server(runs, port, Path(tmp) / f"s{i}", a.extra)
            try:
                starts.append(wait_interactive(port, t0))
            finally:
                proc.terminate()
                proc.wait(30)
        results["startup_s (median)"] = median(starts)
        results["startup_s (each)"] = ", ".join(f"{s:.2f}" for s in starts)
        if a.importtime:
            results |= import_breakdown(runs, Path(tmp) / "imports", a.extra)
        port = free_port()
        proc = start_server(runs, port, Path(tmp) / "gen", a.extra)
        try:
            wait_interactive(port, time.perf_counter())
            url = f"http://127.0.0.1:{port}/"
            from gradio_client import Client

            choices = Client(url, verbose=False).predict(api_name="/runs")[3]["choices"]
            if not choices:
                raise SystemExit("no usable prior run under --runs")
            prior = choices[0][1]
            runs_of = [first_audio(url, prior, seed) for seed in range(a.generations + 1)]
        finally:
            proc.terminate()
            proc.wait(30)
    cold, warm = runs_of[0], runs_of[1:]
    results["cold: first audio s (sampling s)"] = (
        f"{cold['first_audio_s']:.2f} ({cold['sampling_s']:.2f})"
    )
    over = [r["first_audio_s"] - r["sampling_s"] for r in warm]
    results["warm: first audio s (median)"] = median([r["first_audio_s"] for r in warm])
    results["warm: sampling s (median)"] = median([r["sampling_s"] for r in warm])
    results["warm: first audio - sampling s (median; target <= 1)"] = median(over)
    results["warm: whole request s (median)"] = median([r["total_s"] for r in warm])
    results["warm: of it, synthesis s (median)"] = median([r["synthesis_s"] for r in warm])
    results["warm: of it, in the page's queue and transfer s (median)"] = median(
        [r["first_audio_s"] - r["written_s"] for r in warm]
    )
    results["load_average_end"] = load_average()
    print_figures({f"studio.{k}": v for k, v in results.items()}, "studio.")


if __name__ == "__main__":
    main()
