"""Sample a prior and measure its samples offline: figures against validation, memorisation.

:func:`sample` draws code grids of a given length (optionally continuing a prompt) and decodes
them in one VQ-VAE pass. :func:`evaluate_prior` compares samples of the prior with the
validation files' log-mels beside reference rows - the training files (real vs real), the
VQ-VAE's own reconstructions of the validation files, samples of the unigram baseline and the
validation files shuffled in time - by frame and windowed Fréchet distance, a two-sample test,
precision/recall/density/coverage and activity statistics (:mod:`rvqvae.prior.temporal`), and
measures how much the prior's samples copy the training codes.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from rvqvae.codec.grid import decode_grid, grid_columns
from rvqvae.codec.model import Codec
from rvqvae.models.vqvae import DOWNSAMPLE
from rvqvae.prior.metrics import UnigramBaseline, longest_copy, nearest_distances, windows
from rvqvae.prior.model import CodePrior
from rvqvae.prior.sampling import SamplingSettings, make_picker
from rvqvae.prior.temporal import set_figures, time_shuffled
from rvqvae.vocoder.griffinlim import torch_threads


@dataclass
class Samples:
    """Generated grids ``[B, rows, cols, Q]``, their mels ``[B, n_mels, frames]`` and speed."""

    grids: Tensor
    mels: Tensor
    num_samples: int  # audio samples per generated file (exact requested length)
    sampling_seconds: float  # wall time of drawing the codes (no decoding)

    @property
    def tokens(self) -> int:
        return int(self.grids.numel())


def length_for(codec: Codec, seconds: float) -> tuple[int, int, int]:
    """``(audio samples, mel frames, grid columns)`` of ``seconds`` of audio."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
    s = codec.settings
    num_samples = max(1, round(seconds * s.sample_rate))
    frames = s.frames_for(num_samples)
    return num_samples, frames, grid_columns(frames)


@torch.no_grad()
def sample(
    prior: CodePrior,
    codec: Codec,
    num: int,
    seconds: float,
    settings: SamplingSettings,
    seed: int = 0,
    prompt: Tensor | None = None,
    progress: Any = None,
) -> Samples:
    """Draw ``num`` grids of ``seconds`` of audio (``prompt [rows, P, Q]`` fixes the first P
    columns of every sample) and decode them; deterministic for ``seed``."""
    num_samples, frames, columns = length_for(codec, seconds)
    generator = torch.Generator().manual_seed(int(seed))
    prompt_columns = None
    if prompt is not None:
        prompt_columns = prior.layout.to_columns(prompt.long())[None].expand(num, -1, -1)
        prompt_columns = prompt_columns.to(next(prior.parameters()).device)
    started = time.perf_counter()
    # one intra-op thread: a sampling step is many tiny ops, which extra threads only slow down
    # (by 10x and more when other processes compete for the cores)
    with torch_threads(1):
        columns_out = prior.generate(
            num, columns, make_picker(settings, generator), prompt_columns, progress
        )
    elapsed = time.perf_counter() - started
    grids = prior.layout.to_grid(columns_out.cpu())
    mels = decode_grid(codec.model, grids, frames, codec.settings.n_mels)
    return Samples(grids=grids, mels=mels, num_samples=num_samples, sampling_seconds=elapsed)


def baseline_bits(data: Any, unigram: UnigramBaseline, codebook_size: int) -> dict[str, float]:
    """Raw and unigram bits per second of ``data``'s validation files."""
    tokens = sum(g.numel() for g in data.val_grids)
    unigram_nats = sum(float(unigram.nll_per_level(g).sum()) for g in data.val_grids)
    return {
        "raw_bits_per_s": tokens * math.log2(codebook_size) / data.val_seconds,
        "unigram_bits_per_s": unigram_nats / math.log(2) / data.val_seconds,
    }


@torch.no_grad()
def score_validation(prior: CodePrior, data: Any, batch_size: int = 16) -> dict[str, Any]:
    """The prior's NLL of ``data``'s validation files: ``val/bits_per_s`` and per level, and
    cross-entropy per level (nats per token), as the training run's validation computes them."""
    levels = prior.layout.levels
    nll = torch.zeros(levels, dtype=torch.float64)
    tokens = torch.zeros(levels, dtype=torch.float64)
    items = data.val_set.items
    for i in range(0, len(items), batch_size):
        columns = torch.stack([w for w, _ in items[i : i + batch_size]])
        mask = torch.stack([m for _, m in items[i : i + batch_size]])
        batch_nll, batch_tokens = prior.level_nll(columns, mask)
        nll += batch_nll.cpu()
        tokens += batch_tokens.cpu()
    per_level = (nll / math.log(2) / data.val_seconds).tolist()
    return {
        "val/bits_per_s": float(sum(per_level)),
        "val/bits_per_s_per_level": per_level,
        "val/ce_per_level": (nll / tokens.clamp(min=1)).tolist(),
    }


@dataclass
class PriorEvaluation:
    """Offline quality figures of a prior (see :func:`evaluate_prior`); ``figures``: the sets
    against validation (:func:`rvqvae.prior.temporal.set_figures`), flattened by
    :meth:`to_dict`."""

    figures: dict[str, Any]
    longest_copy_s: float
    longest_copy_s_validation: float
    nn_distance_generated: float
    nn_distance_validation: float
    eval_samples: int
    eval_seconds: float
    sampling_tokens_per_s: float
    sampling_x_real_time: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {**out.pop("figures"), **out}


def evaluate_prior(
    prior: CodePrior,
    codec: Codec,
    train_grids: list[Tensor],
    val_grids: list[Tensor],
    train_mels: list[Any],
    val_mels: list[Any],
    unigram: UnigramBaseline,
    num_samples: int = 16,
    seconds: float = 4.0,
    settings: SamplingSettings | None = None,
    seed: int = 0,
) -> tuple[PriorEvaluation, Samples]:
    """Figures against the validation mels of prior samples and the reference rows (training
    files, VQ-VAE reconstructions, unigram samples, validation shuffled in time); longest exact
    copy of training codes and nearest-neighbour code distance of 1 s windows (generated vs
    validation windows, both against the training windows)."""
    settings = settings or SamplingSettings()
    generated = sample(prior, codec, num_samples, seconds, settings, seed)
    _, frames, columns = length_for(codec, seconds)
    unigram_grids = unigram.sample(num_samples, columns, torch.Generator().manual_seed(seed))
    unigram_mels = decode_grid(codec.model, unigram_grids, frames, codec.settings.n_mels)
    recon = [
        decode_grid(codec.model, g, m.shape[1], codec.settings.n_mels)
        for g, m in zip(val_grids, val_mels)
    ]

    layout = prior.layout
    train_cols = [layout.to_columns(g) for g in train_grids]
    gen_cols = [layout.to_columns(g) for g in generated.grids]
    val_cols = [layout.to_columns(g) for g in val_grids]
    s = codec.settings
    column_s = DOWNSAMPLE * s.hop_length / s.sample_rate
    width = max(1, round(1.0 / column_s))  # columns in a 1 s window
    train_windows = torch.cat([windows(c, width) for c in train_cols])

    def mean_nn(cols: list[Tensor]) -> float:
        found = [windows(c, width) for c in cols]
        queries = torch.cat(found) if found else torch.zeros(0, 0)
        return float(nearest_distances(queries, train_windows).mean()) if len(queries) else math.nan

    tokens_per_s = generated.tokens / max(generated.sampling_seconds, 1e-9)
    tokens_per_audio_s = layout.slots / column_s
    sets = {
        "prior": list(generated.mels),
        "unigram": list(unigram_mels),
        "reconstruction": recon,
        "train": list(train_mels),
        "shuffled": time_shuffled(val_mels, seed),
    }
    frame_s = s.hop_length / s.sample_rate
    evaluation = PriorEvaluation(
        figures=set_figures(train_mels, val_mels, sets, frame_s, seed),
        longest_copy_s=max(longest_copy(c, train_cols) for c in gen_cols) * column_s,
        longest_copy_s_validation=max(longest_copy(c, train_cols) for c in val_cols) * column_s,
        nn_distance_generated=mean_nn(gen_cols),
        nn_distance_validation=mean_nn(val_cols),
        eval_samples=num_samples,
        eval_seconds=float(seconds),
        sampling_tokens_per_s=tokens_per_s,
        sampling_x_real_time=tokens_per_s / tokens_per_audio_s,
    )
    return evaluation, generated
