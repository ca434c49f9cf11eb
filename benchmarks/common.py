"""Shared helpers for the benchmark scripts: config composition, machine info, timing."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = str(REPO / "conf")
RESULTS = REPO / "benchmarks" / "results.json"

if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))


def load_average() -> str:
    """``1 min, 5 min, 15 min`` load average (other processes compete for the cores)."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """``machine.*`` keys: CPU, cores, torch, GPU, load average."""
    import torch

    info: dict[str, Any] = {
        "machine.cpu": cpu_model(),
        "machine.cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0,
        "machine.torch": torch.__version__,
        "machine.torch_threads": torch.get_num_threads(),
        "machine.python": platform.python_version(),
        "machine.gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine.load_average": load_average(),
        "machine.date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine.omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }
    return info


def compose_plain(overrides: list[str], output_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """Compose ``conf/train.yaml`` as ``python -m rvqvae.train OVERRIDES`` would.

    Returns ``(cfg, plain)``: the DictConfig with its ``hydra`` node set up for a run in
    ``output_dir`` (registered with ``HydraConfig``), and the resolved plain dict.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    import rvqvae  # noqa: F401  (resolvers)

    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.name = "train"
    HydraConfig.instance().set_config(cfg)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        del cfg["hydra"]
    plain = OmegaConf.to_container(cfg, resolve=True)
    return cfg, plain  # type: ignore[return-value]


def timed(fn: Callable[[], Any], device: Any = None) -> tuple[float, Any]:
    """``(seconds, fn())``; a CUDA ``device`` is synchronized before each clock reading."""
    from rvqvae.timing import timed as timed_on

    out, seconds = timed_on(fn, device=device)
    return seconds, out


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_figures(results: dict[str, Any], prefix: str = "") -> None:
    for key in sorted(results):
        if key.startswith(prefix):
            print(f"  {key:44s} {fmt(results[key])}")
