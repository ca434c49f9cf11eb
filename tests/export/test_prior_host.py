"""A host program generates with the exported prior step: greedy sampling through onnxruntime,
window restarts included, gives the codes of ``FlatPrior.generate`` with the same picker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def host_generate(run, notes: dict, batch: int, columns: int) -> np.ndarray:
    """Greedy codes ``[batch, columns, slots]`` from the exported step alone (numpy + the
    manifest's notes): what a C++/JS host would write."""
    slots, context = notes["slots"], notes["hparams"]["context_columns"]
    t = notes["cache"]
    empty = np.zeros((t["layers"], batch, t["heads"], 0, t["head_dim"]), np.float32)
    out = np.zeros((batch, columns, slots), np.int64)
    start, logits, keys, values = -1, None, empty, empty

    def window_start(column: int, start: int) -> int:
        if column - start < context:
            return start
        return column - (context - max(1, context // 4))

    def step(n: int, start: int) -> tuple[np.ndarray, ...]:
        column, slot = divmod(n, slots)
        token = (
            out[:, start + (n - 1) // slots, (n - 1) % slots] if n else np.zeros(batch, np.int64)
        )
        above = out[:, start + column - 1, slot] if column else np.full(batch, -1, np.int64)
        return tuple(run(token, above, np.array(n, np.int64), keys, values))

    for c in range(columns):
        window = window_start(c, max(start, 0))
        if window != start:  # a new window: its columns so far, then (c, 0), from an empty cache
            start, keys, values = window, empty, empty
            for n in range((c - start) * slots + 1):
                logits, keys, values = step(n, start)
        for slot in range(slots):
            out[:, c, slot] = logits.argmax(-1)
            last = c == columns - 1 and slot == slots - 1
            if last or (slot == slots - 1 and window_start(c + 1, start) != start):
                continue
            logits, keys, values = step((c - start) * slots + slot + 1, start)
    return out


def test_a_host_loop_over_the_onnx_step_generates_what_the_prior_does(onnx_export: Path) -> None:
    from rvqvae.export.formats import load_runner
    from rvqvae.prior.checkpoint import load_prior

    entry = json.loads((onnx_export / "manifest.json").read_text())["parts"]["prior"]
    run = load_runner(onnx_export / entry["file"], [t["name"] for t in entry["inputs"]])
    prior = load_prior(entry["notes"]["checkpoint"]).prior
    columns = prior.context_columns + 3  # one window restart
    want = prior.generate(2, columns, lambda logits: logits.argmax(-1))
    got = host_generate(run, entry["notes"], 2, columns)
    assert np.array_equal(got, want.numpy())
    assert len(np.unique(got)) > 1  # not a constant sequence
