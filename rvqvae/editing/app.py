"""The ``python -m rvqvae.edit`` job: settings -> inputs -> one operation -> written result.

Each ``op`` reads its settings from the resolved ``conf/edit.yaml``, says in one line what it
did (the ranges actually used, snapped to columns) and writes ``<name>.codes.npz``, ``.wav``
and ``.png`` (:func:`rvqvae.editing.output.write_edit`). Bad settings raise :class:`EditError`
(one line naming the setting).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from rvqvae.codec.model import Codec
from rvqvae.editing.ops import Segment, blend, splice, swap_levels
from rvqvae.editing.ranges import ColumnRange, EditError, check_level, column_seconds, snap_range
from rvqvae.editing.sources import EditGrid, load_source, samples_for

OPS = ("show", "swap_levels", "blend", "splice", "inpaint", "variation", "continue")
PRIOR_OPS = ("inpaint", "variation", "continue")
PART = re.compile(r"^(\w+)(?::([0-9.]*)-([0-9.]*))?(?:\*(\d+))?$")


@dataclass
class Result:
    """One output of an operation: grid, length, name, the history entry, lines to draw."""

    grid: Tensor
    num_samples: int
    name: str
    entry: dict[str, Any]
    marks_s: list[float]
    line: str
    history: list[dict[str, Any]] = field(default_factory=list)


def load_models(ckpt: str, device: str, op: str) -> tuple[Codec, Any]:
    """``(codec, loaded prior or None)`` from a VQ-VAE or a prior checkpoint."""
    from rvqvae.prior.checkpoint import load_prior
    from rvqvae.safeload import load_checkpoint_file
    from rvqvae.training.checkpoint import PRIOR_KEY

    if PRIOR_KEY in load_checkpoint_file(ckpt):
        loaded = load_prior(ckpt, device=device)
        return loaded.codec, loaded
    if op in PRIOR_OPS:
        raise EditError(
            f"op={op} regenerates codes with a prior but ckpt={ckpt} is a VQ-VAE checkpoint: "
            "give a prior checkpoint (python -m rvqvae.train_prior vqvae=THAT_RUN)"
        )
    return Codec.from_checkpoint(ckpt, device=device), None


def synthesizer(cfg: dict[str, Any], codec: Codec, loaded: Any) -> Any:
    """``vocoder=auto`` looks beside ``ckpt``, then in the prior's VQ-VAE run."""
    from rvqvae.prior.checkpoint import resolve_vqvae
    from rvqvae.training.checkpoint import CheckpointError
    from rvqvae.vocoder.synthesize import build_synthesizer

    candidates = [str(cfg["ckpt"])]
    if loaded is not None:
        try:
            candidates.append(str(resolve_vqvae(loaded.config.get("vqvae") or "")))
        except CheckpointError:
            pass  # the VQ-VAE run is gone: the prior's own folder only
    return build_synthesizer(
        cfg.get("vocoder"), codec.settings, candidates, int(cfg["griffin_lim_iters"])
    )


def _input(src: EditGrid, first: bool) -> dict[str, Any]:
    """An input's record; the first input's history continues in the output's history."""
    return {"name": src.name, "path": src.path} | ({} if first else {"history": src.history})


def _span(cfg: dict[str, Any], src: EditGrid, column_s: float, key: str = "range") -> ColumnRange:
    return snap_range(cfg.get(key), src.columns, column_s, key, src.path or src.name)


def _sampling(cfg: dict[str, Any]) -> Any:
    from rvqvae.prior.sampling import SamplingSettings

    try:
        return SamplingSettings(cfg["temperature"], cfg["top_k"], cfg["top_p"])
    except ValueError as exc:
        raise EditError(str(exc)) from None


def parse_parts(parts: Any, sources: dict[str, EditGrid], column_s: float) -> list[Segment]:
    """``["a:0-1.5", "b:2-*3", "a"]`` (source, optional seconds range, optional loops)."""
    if not isinstance(parts, list | tuple) or not parts:
        raise EditError('splice needs parts=["a:START-END", "b:START-END*LOOPS", ...]')
    out = []
    for part in parts:
        m = PART.match(str(part).replace(" ", ""))
        if not m or m.group(1) not in sources:
            raise EditError(
                f"splice part {part!r}: write SOURCE[:START-END][*LOOPS] with SOURCE one of "
                f"{', '.join(sources)} and seconds START, END (either may be empty)"
            )
        src = sources[m.group(1)]
        bounds = [float(v) if v else None for v in (m.group(2), m.group(3))]
        span = snap_range(bounds, src.columns, column_s, f"part {part}", src.path or src.name)
        out.append(Segment(m.group(1), span, int(m.group(4) or 1)))
    return out


def operate(cfg: dict[str, Any], codec: Codec, loaded: Any) -> list[Result]:
    """Run ``cfg['op']`` on ``cfg['a']`` (and ``cfg['b']``) -> the results to write; each
    result's ``history`` is ``a``'s history followed by this edit."""
    op = cfg["op"]
    if op not in OPS:
        raise EditError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    a = load_source(codec, cfg["a"], "a")
    b = load_source(codec, cfg["b"], "b") if cfg.get("b") else None
    if op in ("swap_levels", "blend") and b is None:
        raise EditError(f"op={op} needs a second input: b=CODES_OR_AUDIO")
    results = _operate(cfg, codec, loaded, a, b)
    for r in results:
        r.history = [*a.history, r.entry]
    return results


def _operate(
    cfg: dict[str, Any], codec: Codec, loaded: Any, a: EditGrid, b: EditGrid | None
) -> list[Result]:
    op, column_s = cfg["op"], column_seconds(codec.settings)
    stem = cfg.get("name") or f"{Path(a.name).name.split('.')[0]}_{op}"
    base = {"op": op, "inputs": [_input(a, True)] + ([_input(b, False)] if b else [])}
    if op == "show":
        from rvqvae.codec.grid_view import code_usage

        usage = code_usage(a.grid, codec.model.codebook_size)
        line = "; ".join(
            f"level {q}: {u['used']}/{codec.model.codebook_size} codes, perplexity "
            f"{u['perplexity']:.1f}"
            for q, u in enumerate(usage)
        )
        return [Result(a.grid, a.num_samples, stem, base, [], line)]
    if op == "swap_levels":
        assert b is not None
        k = check_level(cfg["levels"], a.levels, "levels")
        ab, ba = swap_levels(a.grid, b.grid, k), swap_levels(b.grid, a.grid, k)
        cols = ab.shape[1]
        line = f"levels < {k} of one, >= {k} of the other over {cols * column_s:.3f} s"
        return [
            Result(ab, samples_for(codec, cols, a), f"{stem}_ab", {**base, "levels": k}, [], line),
            Result(ba, samples_for(codec, cols, b), f"{stem}_ba", {**base, "levels": k}, [], line),
        ]
    if op == "blend":
        assert b is not None
        span = _span(cfg, a, column_s)
        grid = blend(codec.model, a.grid, b.grid, cfg["weight"], span)
        entry = {**base, "weight": cfg["weight"], "range": span.to_dict()}
        marks = [t for t in span.seconds if 0 < t < a.columns * column_s]
        line = f"weight {cfg['weight']} of b over {span.describe()}"
        return [Result(grid, a.num_samples, stem, entry, marks, line)]
    if op == "splice":
        sources = {"a": a} | ({"b": b} if b is not None else {})
        segments = parse_parts(cfg.get("parts"), sources, column_s)
        grid, seams = splice({k: v.grid for k, v in sources.items()}, segments)
        used = [f"{s.source} {s.span.describe()} x{s.loops}" for s in segments]
        entry = {**base, "parts": [[s.source, s.span.to_dict(), s.loops] for s in segments]}
        line = f"{len(segments)} parts ({'; '.join(used)}), seams at columns {seams}"
        n = samples_for(codec, grid.shape[1], a)
        return [Result(grid, n, stem, entry, [c * column_s for c in seams], line)]
    return prior_op(cfg, codec, loaded, a, base, stem)


def prior_op(
    cfg: dict[str, Any], codec: Codec, loaded: Any, a: EditGrid, base: dict[str, Any], stem: str
) -> list[Result]:
    """``inpaint``, ``variation`` and ``continue`` (the prior's sampling, KV cache)."""
    from rvqvae.editing.regenerate import METHODS, check_prior_fits, regenerate
    from rvqvae.prior.evaluation import sample

    op, column_s, settings = cfg["op"], column_seconds(codec.settings), _sampling(cfg)
    check_prior_fits(loaded.prior, a.grid, a.path or a.name)
    seed = int(cfg["seed"])
    entry = {**base, "prior": str(cfg["ckpt"]), "seed": seed, "sampling": settings.to_dict()}
    if op == "continue":
        cut = None if cfg.get("prompt_seconds") is None else [0, cfg["prompt_seconds"]]
        span = snap_range(cut, a.columns, column_s, "prompt_seconds", a.path or a.name)
        seconds = cfg["seconds"]
        if not isinstance(seconds, int | float) or seconds <= span.seconds[1]:
            raise EditError(
                f"seconds={seconds!r} must be longer than the prompt ({span.seconds[1]:.3f} s)"
            )
        out = sample(loaded.prior, codec, 1, seconds, settings, seed, prompt=a.grid[:, : span.end])
        entry |= {"prompt": span.to_dict(), "seconds": seconds}
        line = f"continued the first {span.describe()} to {seconds:g} s"
        return [Result(out.grids[0], out.num_samples, stem, entry, [span.seconds[1]], line)]
    if cfg.get("range") is None and op == "inpaint":
        raise EditError("op=inpaint needs range=[START_S,END_S]: the seconds to regenerate")
    span = _span(cfg, a, column_s)
    levels_from = 0 if op == "inpaint" else check_level(cfg["levels"], a.levels, "levels")
    method = cfg.get("method")
    if method not in METHODS:
        raise EditError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "masked":
        from rvqvae.prior.masked import valid_noise

        steps = cfg.get("steps", 12)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise EditError(
                f"steps must be an integer >= 1 (method=masked's passes), got {steps!r}"
            )
        noise, coarse = cfg.get("noise", 0.0), cfg.get("coarse_first", False)
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not valid_noise(noise):
            raise EditError(f"noise must be a finite number >= 0 (method=masked), got {noise!r}")
        if not isinstance(coarse, bool):
            raise EditError(f"coarse_first must be true or false (method=masked), got {coarse!r}")
        prior = loaded.prior
        prior.decode_steps, prior.decode_noise, prior.decode_coarse_first = steps, noise, coarse
        entry |= {"steps": steps, "noise": float(noise), "coarse_first": coarse}
    k = int(cfg["candidates"]) if method == "rescore" else 1
    right, select = int(cfg["right_columns"]), cfg.get("select", "best")
    done = regenerate(
        loaded.prior, a.grid, span, settings, seed, levels_from, k, right, select, method
    )
    entry |= {"range": span.to_dict(), "levels_from": levels_from, "method": method}
    entry["select"] = select
    entry |= {"candidates": k, "chosen": done.chosen, "right": done.right.to_dict()}
    entry["right_log_prob"] = [round(float(v), 3) for v in done.right_log_prob]
    line = f"regenerated levels >= {levels_from} over {span.describe()}"
    if k > 1:
        line += (
            f"; kept candidate {done.chosen} of {k} (log p of the {done.right.columns} columns "
            f"after it {float(done.right_log_prob.max()):.1f} nats, mean of the candidates "
            f"{float(done.right_log_prob.mean()):.1f})"
        )
    marks = [t for t in span.seconds if 0 < t < a.columns * column_s]
    return [Result(done.grid, a.num_samples, stem, entry, marks, line)]


def run(cfg: dict[str, Any], run_dir: str) -> list[dict[str, Path]]:
    """Load, edit, write; prints one line per output."""
    from rvqvae.editing.output import write_edit

    started = time.perf_counter()
    device = cfg.get("device") or "cpu"
    codec, loaded = load_models(str(cfg["ckpt"]), device, str(cfg.get("op")))
    results = operate(cfg, codec, loaded)
    synth = synthesizer(cfg, codec, loaded) if cfg.get("write_audio", True) else None
    out = Path(cfg.get("output") or run_dir).expanduser()
    written = []
    for r in results:
        paths = write_edit(codec, r.grid, r.num_samples, out, r.name, r.history, synth, r.marks_s)
        written.append(paths)
        kinds = ", ".join(p.name for p in paths.values())
        print(f"{cfg['op']}: {r.line} -> {out}: {kinds}")
    audio = synth.describe() if synth is not None else "none (write_audio=false)"
    print(f"edited in {time.perf_counter() - started:.1f} s; audio: {audio}")
    return written
