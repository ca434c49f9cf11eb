"""Exported files against the library: the same inputs through both, the largest difference.

Codes are compared for identity (the count of differing codes), mels, audio and logits by their
largest absolute difference. Used by the CLI on a probe signal (written into the manifest), by
the tests on real files and by ``benchmarks/export.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rvqvae.codec.grid import decode_grid, encode_grid
from rvqvae.codec.model import Codec
from rvqvae.data.io import PEAK_TARGET
from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.export.formats import Graph, Runner
from rvqvae.export.prior_graph import teacher_forced_steps


def probe_mel(settings: MelSettings, seconds: float = 2.3) -> np.ndarray:
    """A deterministic log-mel ``[n_mels, frames]``: a harmonic tone gliding up, then noise."""
    sr = settings.sample_rate
    t = np.arange(int(seconds * sr)) / sr
    f0 = 220.0 * 2 ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(h * phase) / h for h in range(1, 6)) * np.exp(-2 * t)
    noise = np.random.default_rng(0).standard_normal(len(t)) * (t > seconds / 2) * 0.2
    audio = tone + noise
    audio = audio * PEAK_TARGET / np.abs(audio).max()
    return audio_to_mel(audio.astype(np.float32), settings)


def check_encoder(codec: Codec, run: Runner, mel: np.ndarray) -> dict[str, Any]:
    """``{"code_mismatches": n, "codes": N}``: exported codes vs :func:`encode_grid`."""
    got = run(mel[None].astype(np.float32))[0][0]
    want = encode_grid(codec.model, torch.from_numpy(mel)).numpy()
    if got.shape != want.shape:
        return {"code_mismatches": int(want.size), "codes": int(want.size)}
    return {"code_mismatches": int((got != want).sum()), "codes": int(want.size)}


def check_decoder(codec: Codec, run: Runner, grid: np.ndarray, frames: int) -> dict[str, Any]:
    """``{"mel_max_abs": x}`` over every number of levels: exported vs :func:`decode_grid`."""
    worst = 0.0
    for levels in range(1, grid.shape[-1] + 1):
        got = run(grid[None].astype(np.int64), np.array(levels, np.int64))[0][0, :, :frames]
        want = decode_grid(codec.model, torch.from_numpy(grid), frames, levels=levels).numpy()
        worst = max(worst, float(np.abs(got - want).max()))
    return {"mel_max_abs": worst}


def check_vocoder(graph: Graph, run: Runner, mel: np.ndarray) -> dict[str, Any]:
    """``{"audio_max_abs": x}``: exported audio vs the generator's ``forward`` (torch.istft)."""
    got = run(mel[None].astype(np.float32))[0]
    with torch.no_grad():
        want = graph.module.gen(torch.from_numpy(mel)[None]).numpy()
    return {"audio_max_abs": float(np.abs(got - want).max())}


def check_prior(graph: Graph, run: Runner, grid: np.ndarray) -> dict[str, Any]:
    """``{"logits_max_abs": x}``: exported steps over the first window of ``grid``'s columns vs
    the prior's teacher-forced logits."""
    prior = graph.module.prior
    codes = torch.from_numpy(grid[..., : prior.layout.levels]).long()
    window = prior.layout.to_columns(codes)[None, : prior.context_columns]

    def step(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(o) for o in run(*(t.numpy() for t in tensors)))

    with torch.no_grad():
        want = prior(window)
        got = teacher_forced_steps(step, window, graph.module.empty_cache(1))
    return {"logits_max_abs": float((got - want).abs().max())}


def check_graph(graph: Graph, run: Runner, codec: Codec, mel: np.ndarray) -> dict[str, Any]:
    """The check of ``graph.part`` on ``mel`` (its codes for the decoder and the prior)."""
    if graph.part == "encoder":
        return check_encoder(codec, run, mel)
    if graph.part == "vocoder":
        return check_vocoder(graph, run, mel)
    grid = encode_grid(codec.model, torch.from_numpy(mel)).numpy()
    if graph.part == "decoder":
        return check_decoder(codec, run, grid, mel.shape[-1])
    return check_prior(graph, run, grid)
