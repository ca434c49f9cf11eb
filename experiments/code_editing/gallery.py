"""The code editing study's examples: every operation on two short clips, as PNG, codes and WAV.

Used by ``study.py`` (the synth examples, and ``--real-examples`` for the real-audio ones).
"""

from __future__ import annotations

from pathlib import Path

import torch

from rvqvae.codec.model import Codec
from rvqvae.editing.ops import Segment, blend, splice, swap_levels
from rvqvae.editing.output import write_edit
from rvqvae.editing.ranges import ColumnRange, column_seconds
from rvqvae.editing.regenerate import regenerate
from rvqvae.editing.sources import load_source
from rvqvae.prior.grids import rebuild_split
from rvqvae.prior.sampling import SamplingSettings
from rvqvae.vocoder.synthesize import build_synthesizer

KINDS = ("music", "speech")  # the real-audio examples' two clips: a music and a speech one
RIGHT = 4  # columns after a hole that rescoring weighs its fills by (here and in the study)


def examples(
    loaded, real_codec: Codec | None, val_g, folder: Path, seed: int, sources: list[str]
) -> list[str]:
    """A few short (<= 1.9 s) examples of each operation on the first two validation files
    (their WAVs by ``vocoder=auto`` looking in ``sources``); with ``real_codec`` also its swap,
    blend and splice (:func:`put_real`)."""
    codec = loaded.codec
    synth = build_synthesizer("auto", codec.settings, sources)
    made: list[str] = []
    clips = (("a", val_g[0][:, :11]), ("b", val_g[1][:, :11]))
    put_examples(codec, "synth", clips, folder, made, synth, loaded.prior, None, seed)
    if real_codec is not None:
        put_real(real_codec, folder, made)
    return made


def put_real(
    codec: Codec, folder: Path, made: list[str], prior=None, masked=None, seed: int = 0
) -> None:
    """Real-audio examples from the first music and the first speech clip of the VQ-VAE run's
    validation files (:func:`put_examples`; nothing where either kind is missing)."""
    _, val, _ = rebuild_split(codec, None)
    clips = [next((p for p in sorted(val) if p.parent.name == kind), None) for kind in KINDS]
    if None in clips:
        return
    named = tuple((kind, load_source(codec, p).grid[:, :11]) for kind, p in zip(KINDS, clips))
    synth = build_synthesizer("auto", codec.settings, codec.path)
    put_examples(codec, "real", named, folder, made, synth, prior, masked, seed)


def put_examples(
    codec: Codec,
    prefix: str,
    clips: tuple[tuple[str, torch.Tensor], ...],
    folder: Path,
    made: list[str],
    synth,
    prior=None,
    masked=None,
    seed: int = 0,
) -> None:
    """Each operation on two named 11-column grids ``a`` and ``b`` (PNG, codes and WAV through
    ``synth``; the inputs as PNG only), named ``PREFIX_...``, their paths (relative to
    ``folder``'s parent) added to ``made``:
    swap (a's structure, b's detail), blend, splice (a's 5 columns, then b); with ``prior`` (a
    causal prior) a's columns 3-7 inpainted by rescoring and a's variation of levels 1-2; with
    ``masked`` (a masked prior) a's columns 3-7 inpainted by parallel decoding."""
    (a_name, a), (b_name, b) = clips
    n = 11 * 16 * codec.settings.hop_length
    column_s = column_seconds(codec.settings)
    todo = [
        (a_name, a, (), False),
        (b_name, b, (), False),
        (f"swap_{a_name}_structure_{b_name}_detail", swap_levels(a, b, 1), (), True),
        ("blend_half", blend(codec.model, a, b, 0.5), (), True),
    ]
    cut = [Segment("a", ColumnRange(0, 5, 0)), Segment("b", ColumnRange(5, 11, 0))]
    grid, seams = splice({"a": a, "b": b}, cut)
    todo.append(("splice", grid, [s * column_s for s in seams], True))
    hole, settings = ColumnRange(3, 7, column_s), SamplingSettings(1.0, 0, 0.95)
    if prior is not None:
        fill = regenerate(prior, a, hole, settings, seed, 0, 8, RIGHT).grid
        todo.append(("inpaint_rescore", fill, hole.seconds, True))
        whole = ColumnRange(0, 11, column_s)
        variation = regenerate(prior, a, whole, settings, seed, 1).grid
        todo.append(("variation_levels_1_2", variation, (), True))
    if masked is not None:
        fill = regenerate(masked, a, hole, settings, seed, method="masked").grid
        todo.append(("inpaint_masked", fill, hole.seconds, True))
    for name, grid, marks, audio in todo:
        name = f"{prefix}_{name}"
        voice = synth if audio else None
        paths = write_edit(codec, grid, n, folder, name, [{"study": name}], voice, marks)
        made.extend(str(p.relative_to(folder.parent)) for k, p in paths.items() if k != "codes")
