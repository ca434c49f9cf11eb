"""The Edit tab's work: one operation of :mod:`rvqvae.editing` (as ``python -m rvqvae.edit``
runs it: :func:`rvqvae.editing.app.operate`, :func:`rvqvae.editing.output.write_edit`) on a
file of the run, before and after.

Settings the page does not ask for come from ``conf/edit.yaml``, the CLI's own defaults.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rvqvae.studio.catalog import PRIOR, Run
from rvqvae.studio.engine import Engine, Output, Progress, import_work_modules
from rvqvae.studio.safety import StudioError

EDIT_CONF = Path(__file__).resolve().parents[2] / "conf" / "edit.yaml"
OPS = ("swap_levels", "blend", "splice", "inpaint", "variation", "continue")


def edit_defaults() -> dict[str, Any]:
    """``conf/edit.yaml``'s operation settings (no Hydra nodes, no required inputs)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(EDIT_CONF), resolve=False)
    assert isinstance(cfg, dict)
    for key in ("defaults", "hydra", "a", "b", "ckpt", "output", "name"):
        cfg.pop(key, None)
    return {str(k): v for k, v in cfg.items()}


class _ReportingPrior:
    """``prior`` whose ``generate`` also reports each drawn column to ``step(done, total)``:
    :func:`rvqvae.editing.app.operate` draws without a progress callback, so the studio hands it
    this view of the loaded prior (everything else is the prior's own)."""

    def __init__(self, prior: Any, step: Callable[[int, int], None]) -> None:
        self._prior, self._step = prior, step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prior, name)

    def generate(
        self, batch: int, columns: int, pick: Any, prompt: Any = None, progress: Any = None
    ) -> Any:
        first = 0 if prompt is None else int(prompt.shape[1])

        def each(n: int) -> None:
            self._step(n - first, columns - first)
            if progress is not None:
                progress(n)

        return self._prior.generate(batch, columns, pick, prompt, each)

    def report_columns(self, done: int, total: int) -> None:
        """Progress of a fill-in-the-middle (``method=fim``), which draws without ``generate``."""
        self._step(done, total)


def run_edit(
    engine: Engine, run: Run, a: Path, b: Path | None, ask: dict[str, Any], progress: Progress
) -> Output:
    """``ask['op']`` on ``a`` (and ``b``) with the run's VQ-VAE (and prior): the input's code
    grid view and audio ("before"), the result's codes, audio and grid view ("after").
    ``progress`` is called after each column the prior draws (inpaint, variation, continue):
    a Stop (:func:`~rvqvae.studio.engine.stoppable`) raises there."""
    import_work_modules()
    from rvqvae.editing.app import PRIOR_OPS, operate
    from rvqvae.editing.output import write_edit

    op = ask.get("op")
    if op not in OPS:
        raise StudioError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    progress(0.05, "loading the model")
    loaded = engine.prior(run) if run.kind == PRIOR else None
    codec = loaded.codec if loaded is not None else engine.codec(run)
    if op in PRIOR_OPS and loaded is None:
        raise StudioError(f"{op} regenerates codes with a prior: choose a prior run")
    vqvae = [run.vqvae / "checkpoints" / "best.ckpt"] if run.vqvae else []
    synth = engine.synthesizer(codec.settings, [run.checkpoint, *vqvae], vocoder=True)
    cfg = {**edit_defaults(), **ask, "a": str(a), "b": str(b) if b else None}
    cfg["ckpt"] = str(run.checkpoint)
    out, t0 = Output(), time.perf_counter()
    folder = engine.folder("edit")
    progress(0.2, "before: the input's codes")
    (before,) = operate({**cfg, "op": "show", "name": "before"}, codec, loaded)
    paths = write_edit(codec, before.grid, before.num_samples, folder, "before", [], synth)
    out.files |= {"before_audio": paths["wav"], "before_grid": paths["png"]}
    progress(0.4, f"{op}")
    drawing = loaded
    if loaded is not None and op in PRIOR_OPS:

        def step(done: int, total: int) -> None:
            progress(0.4 + 0.4 * done / max(1, total), f"{op}: column {done}/{total}")

        drawing = dataclasses.replace(loaded, prior=_ReportingPrior(loaded.prior, step))
    results = operate({**cfg, "name": f"after_{op}"}, codec, drawing)
    progress(0.8, "after: decoding and drawing")
    for i, r in enumerate(results):
        written = write_edit(
            codec, r.grid, r.num_samples, folder, r.name, r.history, synth, r.marks_s
        )
        if i == 0:
            out.files |= {"after_audio": written["wav"], "after_grid": written["png"]}
        out.files[f"codes_{i}"] = written["codes"]
        out.notes.append(f"{op}: {r.line} -> {written['codes'].name}")
    out.notes.append(f"audio: {synth.describe()}")
    out.seconds["total"] = time.perf_counter() - t0
    return out
