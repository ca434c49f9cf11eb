"""The studio's work, on the same API as the CLIs: loaded models (kept per run), the runs'
validation files, listening (original vs the first k levels, Griffin-Lim vs vocoder), the
per-session Stop events and request folders (generating: :mod:`.generation`, editing:
:mod:`.edits`).

torch and the models are imported on first use (or by :meth:`Engine.warm_up` in the
background), so the page is up before they are.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rvqvae.studio.catalog import PRIOR, Catalog, Run
from rvqvae.studio.safety import Roots, StudioError, check_upload

log = logging.getLogger(__name__)

# What the work imports, imported once under a lock: two threads importing the same modules at
# once (the warm-up and a first request) can see a half-initialised module.
_MODULES = (
    "torch",
    "soundfile",
    "rvqvae.codec.model",
    "rvqvae.codec.grid",
    "rvqvae.codec.png",
    "rvqvae.codec.format",
    "rvqvae.prior.checkpoint",
    "rvqvae.prior.data",
    "rvqvae.prior.evaluation",
    "rvqvae.vocoder.synthesize",
    "rvqvae.editing.view",
    "rvqvae.editing.ranges",
    "rvqvae.generate",
)
_import_lock = threading.Lock()
_imported = False


def import_work_modules() -> None:
    """Import every module the work needs, once, one thread at a time."""
    global _imported
    with _import_lock:
        if not _imported:
            import importlib

            for name in _MODULES:
                importlib.import_module(name)
            _imported = True


Progress = Callable[[float, str], None]


class Cancelled(Exception):
    """The request was stopped from the page."""


def stoppable(progress: Progress, stop: threading.Event) -> Progress:
    """``progress`` that raises :class:`Cancelled` once ``stop`` is set: the work's progress
    reports are where it stops."""

    def report(fraction: float, what: str) -> None:
        if stop.is_set():
            raise Cancelled()
        progress(fraction, what)

    return report


@dataclass
class Settings:
    """Limits and defaults of one studio session (``conf/studio.yaml``)."""

    output: Path
    cache_dir: str | None = None
    griffin_lim_iters: int = 32
    device: str = "cpu"
    max_upload_bytes: int = 50_000_000
    max_seconds: float = 60.0
    data: bool = False  # data folders were given: validation files outside them are hidden


@dataclass
class Output:
    """Files one request wrote (paths under the session's output folder) and its notes."""

    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def note(self) -> str:
        return "\n".join(self.notes)


class Engine:
    """Models and work for the page; every path goes through :class:`Roots`."""

    def __init__(self, catalog: Catalog, roots: Roots, settings: Settings) -> None:
        self.catalog, self.roots, self.settings = catalog, roots, settings
        self._cache: dict[tuple[str, Path], Any] = {}
        self._locks: dict[tuple[str, Path], threading.Lock] = {}
        self._guard = threading.Lock()
        self._stops: dict[tuple[str, str], set[threading.Event]] = {}
        self._ids = itertools.count(1)

    # -- models ------------------------------------------------------------------------------

    def _cached(self, kind: str, path: Path, load: Callable[[], Any]) -> Any:
        import_work_modules()
        key = (kind, path)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                self._cache[key] = load()
            return self._cache[key]

    def codec(self, run: Run) -> Any:
        """The VQ-VAE run's :class:`~rvqvae.codec.model.Codec` (``weights_only`` load)."""
        import_work_modules()
        from rvqvae.codec.model import Codec

        ckpt = self.roots.check(run.checkpoint, "checkpoint")
        device = self.settings.device
        return self._cached("codec", ckpt, lambda: Codec.from_checkpoint(ckpt, device))

    def prior(self, run: Run) -> Any:
        """The prior run's :class:`~rvqvae.prior.checkpoint.LoadedPrior` (``weights_only``)."""
        import_work_modules()
        from rvqvae.prior.checkpoint import load_prior

        ckpt = self.roots.check(run.checkpoint, "checkpoint")
        return self._cached("prior", ckpt, lambda: load_prior(ckpt, self.settings.device))

    def synthesizer(self, settings: Any, checkpoints: list[Path], vocoder: bool) -> Any:
        """Griffin-Lim, or ``vocoder=auto`` over ``checkpoints`` (those inside the roots)."""
        import_work_modules()
        from rvqvae.vocoder.synthesize import build_synthesizer

        iters = self.settings.griffin_lim_iters
        if not vocoder:
            return build_synthesizer("griffinlim", settings, None, iters)
        allowed = tuple(p for p in checkpoints if self.roots.allows(p))
        return self._cached(
            "synth",
            Path(*allowed[:1]) if allowed else Path("."),
            lambda: build_synthesizer("auto", settings, list(allowed) or None, iters),
        )

    def validation_files(self, run: Run) -> list[Path]:
        """The validation files of a VQ-VAE run or of a prior's VQ-VAE (the split rebuilt as
        the prior does), those inside the roots."""
        import_work_modules()
        from rvqvae.prior.grids import rebuild_split

        codec = self.prior(run).codec if run.kind == PRIOR else self.codec(run)

        def load() -> list[Path]:
            _, val, _ = rebuild_split(codec, self.settings.cache_dir)
            files = [p.resolve() for p in val]
            return [p for p in files if self.roots.allows(p)] if self.settings.data else files

        return self._cached("val", run.path, load)

    def warm_up(self) -> None:
        """Import torch and load every usable VQ-VAE and prior (a background thread)."""
        started = time.perf_counter()
        try:
            for run in self.catalog.of_kind("vqvae"):
                self.codec(run)
            for run in self.catalog.of_kind(PRIOR):
                self.prior(run)
            for run in self.catalog.of_kind("vqvae"):
                self.validation_files(run)
        except Exception as exc:  # the page shows the error when the run is used
            log.warning("warm-up stopped: %s", _one_line(exc))
        log.info("models ready in %.1f s", time.perf_counter() - started)

    # -- stopping ----------------------------------------------------------------------------

    def stop_event(self, session: str, kind: str) -> threading.Event:
        """The Stop event of a new ``kind`` request (``listen``, ``generate``, ``edit``) of
        ``session``: :meth:`cancel` sets it until the request calls :meth:`release`."""
        event = threading.Event()
        with self._guard:
            self._stops.setdefault((session, kind), set()).add(event)
        return event

    def release(self, session: str, kind: str, event: threading.Event) -> None:
        """The request of ``event`` has ended."""
        with self._guard:
            running = self._stops.get((session, kind), set())
            running.discard(event)
            if not running:
                self._stops.pop((session, kind), None)

    def cancel(self, session: str, kind: str) -> int:
        """Stop ``session``'s running ``kind`` requests at their next step; how many."""
        with self._guard:
            running = list(self._stops.get((session, kind), ()))
        for event in running:
            event.set()
        return len(running)

    def running(self) -> int:
        """Requests started and not yet ended (every session and kind)."""
        with self._guard:
            return sum(len(v) for v in self._stops.values())

    def folder(self, kind: str) -> Path:
        """A new folder for one request's files in the session's output folder."""
        folder = self.settings.output / kind / f"{time.strftime('%H%M%S')}_{next(self._ids):04d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- listen ------------------------------------------------------------------------------

    def audio_source(self, run: Run, file: str | None, upload: str | None) -> Path:
        """A validation file the page listed for ``run`` or an upload (size-limited)."""
        if upload:
            return check_upload(upload, self.settings.max_upload_bytes)
        if not file:
            raise StudioError("no audio file chosen (pick one or upload one)")
        real = Path(file).resolve()
        with self._guard:
            listed = any(real in v for (k, _), v in self._cache.items() if k == "val")
        path = real if listed else self.roots.check(file, "audio file")
        if not path.is_file():
            raise StudioError(f"{file}: not a file")
        return path

    def listen(self, run: Run, source: Path, levels: int, progress: Progress) -> Output:
        """Original, reconstruction from the first ``levels`` levels by Griffin-Lim and by the
        run's vocoder (when it has one), their mels and the code grid view."""
        import_work_modules()
        import soundfile as sf
        import torch

        from rvqvae.codec.grid import decode_grid, encode_grid
        from rvqvae.codec.png import save_mel_png
        from rvqvae.data.io import load_audio
        from rvqvae.data.mel import audio_to_mel

        out, t0 = Output(), time.perf_counter()
        progress(0.05, "loading the model")
        codec = self.codec(run)
        s, model = codec.settings, codec.model
        k = int(levels)
        if not 1 <= k <= model.num_quantizers:
            raise StudioError(f"levels must be in 1..{model.num_quantizers}, got {levels}")
        progress(0.15, "reading the audio")
        audio = load_audio(source, s.sample_rate, codec.normalize_peak)  # BadAudioFile: one line
        most = int(self.settings.max_seconds * s.sample_rate)
        if audio.shape[0] > most:
            audio = audio[:most]
            out.notes.append(f"only the first {self.settings.max_seconds:g} s (max_seconds)")
        mel = audio_to_mel(audio, s)
        progress(0.2, "encoding and decoding")
        grid = encode_grid(model, torch.from_numpy(mel))
        recon = decode_grid(model, grid, mel.shape[1], s.n_mels, levels=k).numpy()
        warning = codec.untrained_levels_warning([k]) if k < model.num_quantizers else None
        if warning:
            out.notes.append(warning)
        folder = self.folder("listen")
        hop_s = s.hop_length / s.sample_rate
        sf.write(folder / "original.wav", audio, s.sample_rate)
        out.files["original"] = folder / "original.wav"
        gl = self.synthesizer(s, [], vocoder=False)
        wav = synthesize(gl, recon, audio.shape[0], progress, (0.3, 0.6), "Griffin-Lim")
        sf.write(folder / "griffinlim.wav", wav, s.sample_rate)
        out.files["griffinlim"] = folder / "griffinlim.wav"
        progress(0.6, "vocoder")
        voc = self.synthesizer(s, [run.checkpoint], vocoder=True)
        if voc.kind == "vocoder":
            wav = synthesize(voc, recon, audio.shape[0], progress, (0.6, 0.8), "vocoder")
            sf.write(folder / "vocoder.wav", wav, s.sample_rate)
            out.files["vocoder"] = folder / "vocoder.wav"
        out.notes.append(f"audio: Griffin-Lim beside {voc.describe()}")
        progress(0.8, "drawing")
        name = source.name
        out.files["original_mel"] = save_mel_png(mel, folder / "original.png", hop_s, name)
        title = f"{name}: first {k} of {model.num_quantizers} levels"
        out.files["recon_mel"] = save_mel_png(recon, folder / "recon.png", hop_s, title)
        out.files["grid"] = self.grid_view(codec, grid, recon, folder / "grid.png", title)
        out.seconds["total"] = time.perf_counter() - t0
        return out

    def grid_view(self, codec: Any, grid: Any, mel: np.ndarray, path: Path, title: str) -> Path:
        """The code grid view of :mod:`rvqvae.editing.view` (levels above the mel)."""
        from rvqvae.editing.ranges import column_seconds
        from rvqvae.editing.view import save_grid_view

        s = codec.settings
        hop_s = s.hop_length / s.sample_rate
        size = codec.model.codebook_size
        return save_grid_view(grid, mel, path, column_seconds(s), hop_s, size, title)


# Synthesis in blocks, as ``python -m rvqvae.decode`` does it (``Synthesizer.stream``), with a
# progress report (where Stop is seen) after each: Griffin-Lim in decode's blocks
# (``conf/decode.yaml``: the same audio as the CLI's), the vocoder in shorter ones (its blocks
# add up to the whole-file synthesis whatever their length).
GRIFFIN_LIM_BLOCK_S, GRIFFIN_LIM_OVERLAP_S = 20.0, 0.25
VOCODER_BLOCK_S = 5.0


def synthesize(
    synth: Any,
    mel: np.ndarray,
    num_samples: int,
    progress: Progress,
    span: tuple[float, float],
    what: str,
) -> np.ndarray:
    """``synth``'s audio of ``mel [n_mels, frames]`` (``num_samples`` samples) block by block,
    reporting the fraction done within ``span`` of the request's progress before each block."""
    s, frames = synth.settings, mel.shape[1]
    vocoder = synth.kind == "vocoder"
    block_s = VOCODER_BLOCK_S if vocoder else GRIFFIN_LIM_BLOCK_S
    stream = synth.stream(frames, num_samples, block_s, GRIFFIN_LIM_OVERLAP_S)
    step = max(1, round(block_s * s.sample_rate / s.hop_length))
    lo, hi = span
    parts: list[np.ndarray] = []
    for a in range(0, frames, step):
        at, total = a * s.hop_length / s.sample_rate, num_samples / s.sample_rate
        progress(lo + (hi - lo) * a / frames, f"{what}: {at:.0f} of {total:.0f} s")
        parts += stream.push(mel[:, a : a + step])
    parts += stream.finish()
    return np.concatenate(parts) if parts else np.zeros(num_samples, np.float32)


def _one_line(exc: BaseException) -> str:
    from rvqvae.codec.cli import one_line

    return one_line(exc)
