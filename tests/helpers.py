"""Helpers shared by the test packages: tiny audio folders, in-process training on the real
composed config, subprocess runners (for the CLIs, DDP and launchers), W&B offline run files."""

from __future__ import annotations

import atexit
import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tests.warm_python import WarmPython

REPO = Path(__file__).resolve().parents[1]
# W&B offline, its cache and staging folders in each run folder (rvqvae's own choice).
WANDB_OFFLINE: dict[str, str | None] = {
    "WANDB_MODE": "offline",
    "WANDB_CACHE_DIR": None,
    "WANDB_DATA_DIR": None,
}


@dataclass(frozen=True)
class TinyRun:
    """The session's tiny trained RVQ-VAE run (fixture ``tiny_run``): its folder, the audio it
    was trained on, the feature cache it filled and its summary."""

    root: Path
    run: Path
    audio: Path
    cache: Path
    summary: dict[str, Any]

    @property
    def ckpt(self) -> Path:
        """The run's best checkpoint."""
        return self.run / "checkpoints" / "best.ckpt"


def built_once(
    tmp_path_factory: Any, name: str, build: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any]]:
    """``build(folder)`` once per test run, shared by every pytest-xdist worker: the first
    worker to ask builds under a file lock in the run's common temp folder, the others wait and
    reuse it. ``build`` returns a JSON-able record, returned with the folder to every caller."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-of-USER/pytest-N/: the workers' basetemps live in it
    folder = root / name
    record = folder / ".built.json"
    with FileLock(str(folder) + ".lock"):
        if not record.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps(build(folder)))
    return folder, json.loads(record.read_text())


def toy_train_args(epochs: int) -> list[str]:
    """Overrides of a toy RVQ-VAE trained for seconds on a folder of tones (no dropout, higher lr
    so its codebooks are in use); add ``dataset.path=`` and ``hydra.run.dir=``."""
    return [
        "debug=fast",
        "dataset=folder",
        f"trainer.max_epochs={epochs}",
        "trainer.limit_train_batches=4",
        "dataset.augmentation_expansion=4",
        "model.dropout=0.0",
        "optimizer.lr=3e-3",
        "callbacks.previews.interval=1000",
        "callbacks.checkpoints.interval=1000",
    ]


def compose_app(name: str, overrides: list[str]) -> dict[str, Any]:
    """``conf/<name>.yaml`` (``encode``, ``decode``, ...) composed with ``overrides`` as
    ``python -m rvqvae.<name>`` would, as a plain dict for the app's ``run(cfg)`` in this
    process (the CLI's own plumbing is tested once per app through a subprocess)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import rvqvae  # noqa: F401  (registers the resolvers)

    with initialize_config_dir(str(REPO / "conf"), version_base="1.3", job_name=name):
        cfg = compose(name, overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


def compose_train(overrides: list[str], run_dir: Path, job_name: str = "train") -> Any:
    """``conf/train.yaml`` composed with ``overrides`` as ``python -m rvqvae.<job_name>`` would,
    its Hydra node included and set as the current HydraConfig (run mode, output in
    ``run_dir``), like lightning-hydra-template's test fixtures."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import rvqvae  # noqa: F401  (registers the resolvers)

    if job_name == "train_vocoder":  # its vocoder/ group, as the entry point registers it
        from rvqvae.vocoder_training.presets import register_vocoder_presets

        register_vocoder_presets()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3", job_name=job_name):
        cfg = compose(job_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


@contextmanager
def _environ(env: dict[str, str | None]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def train_here(
    overrides: list[str],
    run_dir: Path,
    cache_dir: Path | None = None,
    env: dict[str, str | None] | None = None,
    job: str = "train",
) -> dict[str, Any]:
    """One training job in this process: the real composed config (``job``: ``train`` or
    ``train_prior``) and the job's own ``train(cfg)``, writing into ``run_dir`` (with the
    ``.hydra/`` files a Hydra run leaves) and caching under ``cache_dir`` (default: beside
    ``run_dir``). Returns the summary; a failed job raises its error (summary.json says
    ``failed``)."""
    from omegaconf import OmegaConf, open_dict

    cache = cache_dir or run_dir.parent / "cache"
    extra = [f"paths.cache_dir={cache}"]
    if not any(o.startswith("hydra.run.dir=") for o in overrides):
        extra.append(f"hydra.run.dir={run_dir}")
    with _environ({**(env or {}), "RVQVAE_CACHE_DIR": str(cache)}):
        cfg = compose_train([*overrides, *extra], run_dir, job_name=job)
        hydra_node = cfg.hydra
        with open_dict(cfg):
            del cfg["hydra"]
        hydra_dir = run_dir / ".hydra"
        hydra_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, hydra_dir / "config.yaml")
        OmegaConf.save({"hydra": hydra_node}, hydra_dir / "hydra.yaml")
        OmegaConf.save(list(hydra_node.overrides.task), hydra_dir / "overrides.yaml")
        if job == "train_prior":
            from rvqvae.prior.run import train_prior as train
        elif job == "train_vocoder":
            from rvqvae.vocoder_training.run import train_vocoder as train
        else:
            from rvqvae.training.run import train
        return train(cfg)


def write_tones(folder: Path, count: int, seconds: float = 1.5, sr: int = 16000) -> Path:
    """``count`` short WAV files of harmonic tones at different pitches."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(count):
        f0 = 110.0 * 2 ** (i / 5)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 5))
        env = np.minimum(1.0, t * 20) * np.exp(-t * (0.5 + i % 3))
        sf.write(folder / f"tone_{i:03d}.wav", (0.3 * tone * env).astype(np.float32), sr)
    return folder


_WARM_PYTHON = WarmPython()  # one per xdist worker
atexit.register(_WARM_PYTHON.close)


def run_module(
    module: str,
    args: list[str],
    cwd: Path,
    timeout: float = 300,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> args`` in ``cwd`` with W&B off (unless the environment says
    otherwise) and a private cache; ``env`` entries are added (None removes a variable). The
    process is forked from a warm interpreter unless ``env`` changes its start-up
    (tests/warm_python.py)."""
    full_env = {
        **os.environ,
        "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled"),
        "RVQVAE_CACHE_DIR": str(cwd / "cache"),
        "HYDRA_FULL_ERROR": "0",
    }
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    if not _WARM_PYTHON.needs_cold(full_env):
        return _WARM_PYTHON.run(module, args, cwd, full_env, timeout)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_train(
    args: list[str],
    tmp_path: Path,
    check: bool = True,
    timeout: float = 300,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m rvqvae.train args``; raises with its output when ``check`` and it fails."""
    proc = run_module("rvqvae.train", args, tmp_path, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The run folder's summary.json."""
    return json.loads((run_dir / "summary.json").read_text())


def wandb_records(path: Path) -> Iterator[Any]:
    """Records of an offline ``run-<id>.wandb`` file (LevelDB log format of protobuf Records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST fragment
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            yield record


@dataclass
class WandbLogged:
    """What one offline W&B run recorded, read back from its ``run-*.wandb`` file."""

    history: set[str] = field(default_factory=set)  # logged keys; media as ``KEY/_type`` etc.
    summary: set[str] = field(default_factory=set)  # top-level summary keys
    config: set[str] = field(default_factory=set)  # dotted leaf keys of the config
    config_values: dict[str, Any] = field(default_factory=dict)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}", sub, out)
    else:
        out[prefix] = value


def wandb_logged(run_dir: Path) -> WandbLogged:
    """History, summary and config keys of the run folder's one offline W&B run."""
    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    logged = WandbLogged()
    for record in wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            logged.history |= {i.key or "/".join(i.nested_key) for i in record.history.item}
        elif kind == "summary":
            logged.summary |= {i.key or i.nested_key[0] for i in record.summary.update}
        elif kind == "config":
            for item in record.config.update:
                key = item.key or ".".join(item.nested_key)
                _flatten(key, json.loads(item.value_json), logged.config_values)
    logged.config = set(logged.config_values)
    return logged


# The session's tiny vocoder (tests/conftest.py tiny_vocoder): a vocoder of tiny_run's VQ-VAE.
TINY_VOCODER = [
    "vocoder.model.dim=16",
    "vocoder.model.intermediate_dim=32",
    "vocoder.model.num_layers=1",
    "vocoder.loss.fft_sizes=[256,1024]",
    "dataset.segment_frames=8",
    "dataset.batch_size=4",
    "dataset.val_crops_per_file=1",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.enable_progress_bar=false",
    "evaluation.max_files=1",
    "evaluation.preview_files=1",
    "evaluation.max_seconds=0.5",
    "evaluation.griffin_lim_iters=2",
]


@dataclass(frozen=True)
class TinyVocoder:
    """The copied VQ-VAE run (``vqvae``, vocoder installed in it), the vocoder's run folder and
    its summary."""

    vqvae: Path
    run: Path
    cache: Path
    summary: dict[str, Any]
