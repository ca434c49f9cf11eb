"""Whole-file code grids: a file's mel encoded in one pass, decoded in one pass.

The ConvVQVAE is fully convolutional, so a whole mel ``[n_mels, F]`` maps to one time-continuous
grid of codes ``[rows, columns, levels]`` with ``rows = ceil(n_mels / 16)`` and
``columns = ceil(F / 16)`` (8 rows x 5.86 columns per second x Q levels at 48 kHz / hop 512),
instead of a sequence of overlapping 1 s chunks. Priors model these grids, and a generated grid
of any length decodes in one pass with no chunk seams.

Long inputs are processed in column blocks with a margin of :data:`MARGIN_COLUMNS` columns on
each side, so memory stays bounded. The encoder's receptive field is 31 frames (< 2 columns),
so every kept column sees exactly what it would see in a single pass: blocks give the same codes
and the same mel as one pass (tested), up to float rounding (~1e-6: convolutions of another
width may take another kernel), which can only flip a code between two duplicate codebook
entries (equal vectors, an exact tie), so the quantized vectors and the mel stay the same.

Codes files (layout ``"grid"``, :mod:`rvqvae.codec.format`): :func:`encode_grid_file` (audio ->
one whole-file grid), :func:`decode_grid_file` (mel blocks of a grid file) and
:func:`grid_codes_file` (a generated grid -> a codes file that ``python -m rvqvae.decode``
decodes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rvqvae.codec.format import CodecError, CodesFile, codes_dtype
from rvqvae.codec.model import Codec
from rvqvae.data.io import DEFAULT_BLOCK_SAMPLES, AudioReader
from rvqvae.data.mel import frames_for, stream_mel
from rvqvae.models.vqvae import DOWNSAMPLE, ConvVQVAE, latent_shape

MARGIN_COLUMNS = 2  # context columns on each side of a block (receptive field < 2 columns)
BLOCK_COLUMNS = 256  # columns per block (~44 s at 48 kHz / hop 512)


def grid_columns(n_frames: int) -> int:
    """Columns of the code grid of an ``n_frames`` mel: ``ceil(n_frames / 16)``."""
    return -(-int(n_frames) // DOWNSAMPLE)


def _blocks(columns: int, block_columns: int) -> list[tuple[int, int, int, int]]:
    """``(c0, c1, lo, hi)``: kept columns ``[c0, c1)`` computed from columns ``[lo, hi)``."""
    if columns <= block_columns + 2 * MARGIN_COLUMNS:
        return [(0, columns, 0, columns)]
    out = []
    for c0 in range(0, columns, block_columns):
        c1 = min(columns, c0 + block_columns)
        out.append((c0, c1, max(0, c0 - MARGIN_COLUMNS), min(columns, c1 + MARGIN_COLUMNS)))
    return out


def _encode_block(model: ConvVQVAE, mel: Tensor) -> Tensor:
    """``[B, 1, n_mels, F]`` -> indices ``[B, rows, ceil(F / 16), Q]`` (one pass)."""
    emb = model.encode(mel)  # [B, D, rows, columns]
    _, indices, _ = model.quantize(emb)  # [B, rows * columns, Q]
    b, _, rows, columns = emb.shape
    return indices.reshape(b, rows, columns, -1)


@torch.no_grad()
def encode_grid(model: ConvVQVAE, mel: Tensor, block_columns: int = BLOCK_COLUMNS) -> Tensor:
    """Whole mels ``[n_mels, F]`` or ``[B, n_mels, F]`` -> code grids ``[(B,) rows, cols, Q]``.

    ``model`` should be in eval mode (BatchNorm running statistics, no codebook updates).
    """
    single = mel.ndim == 2
    x = (mel[None] if single else mel).unsqueeze(1).float()  # [B, 1, n_mels, F]
    x = x.to(next(model.parameters()).device)
    parts = []
    for c0, c1, lo, hi in _blocks(grid_columns(x.shape[-1]), block_columns):
        block = _encode_block(model, x[..., lo * DOWNSAMPLE : hi * DOWNSAMPLE])
        parts.append(block[:, :, c0 - lo : c1 - lo])
    grid = torch.cat(parts, dim=2).cpu()
    return grid[0] if single else grid


def _decode_block(model: ConvVQVAE, grid: Tensor, levels: int | None) -> Tensor:
    """``[B, rows, cols, Q]`` -> mel ``[B, 16 * rows, 16 * cols]`` (one pass)."""
    b, rows, cols, q = grid.shape
    shape = (rows * DOWNSAMPLE, cols * DOWNSAMPLE)
    mel = model.decode_codes(grid.reshape(b, rows * cols, q), (rows, cols), shape, levels=levels)
    return mel[:, 0]


@torch.no_grad()
def decode_grid_blocks(
    model: ConvVQVAE,
    grid: Tensor,
    n_frames: int | None = None,
    n_mels: int | None = None,
    levels: int | None = None,
    block_columns: int = BLOCK_COLUMNS,
) -> Iterator[Tensor]:
    """:func:`decode_grid` as consecutive mel blocks ``[(B,) n_mels, f]`` (bounded memory)."""
    single = grid.ndim == 3
    g = (grid[None] if single else grid).long()
    if g.ndim != 4:
        raise ValueError(f"grid must be [(B,) rows, columns, levels], got {tuple(grid.shape)}")
    rows, columns = g.shape[1], g.shape[2]
    n_frames = columns * DOWNSAMPLE if n_frames is None else int(n_frames)
    n_mels = rows * DOWNSAMPLE if n_mels is None else int(n_mels)
    if latent_shape(n_mels, n_frames) != (rows, columns):
        raise ValueError(
            f"a grid of {rows} x {columns} decodes to ceil(n/16) = ({rows}, {columns}), "
            f"not to a mel of {n_mels} x {n_frames}"
        )
    g = g.to(next(model.parameters()).device)
    for c0, c1, lo, hi in _blocks(columns, block_columns):
        mel = _decode_block(model, g[:, :, lo:hi], levels)
        f0, f1 = (c0 - lo) * DOWNSAMPLE, (c1 - lo) * DOWNSAMPLE
        mel = mel[:, :n_mels, f0 : min(f1, f0 + n_frames - c0 * DOWNSAMPLE)].float().cpu()
        yield mel[0] if single else mel


def decode_grid(
    model: ConvVQVAE,
    grid: Tensor,
    n_frames: int | None = None,
    n_mels: int | None = None,
    levels: int | None = None,
    block_columns: int = BLOCK_COLUMNS,
) -> Tensor:
    """Code grids ``[(B,) rows, cols, Q]`` -> mels ``[(B,) n_mels, n_frames]`` (CPU float32).

    ``n_frames`` defaults to ``16 * cols`` and must fit the grid (``ceil(n_frames / 16) ==
    cols``); ``n_mels`` defaults to ``16 * rows``; ``levels`` decodes with the first K levels.
    """
    blocks = decode_grid_blocks(model, grid, n_frames, n_mels, levels, block_columns)
    return torch.cat(list(blocks), dim=-1)


# --------------------------------------------------------------------------------------------
# Codes files with layout "grid"
# --------------------------------------------------------------------------------------------


def grid_bitrate_bps(codec: Codec) -> float:
    """Bits per second of a whole-file grid: ``rows * frames_per_s / 16`` positions per second."""
    s = codec.settings
    rows = grid_columns(s.n_mels)
    return codec.model.bitrate_bps(rows * s.sample_rate / s.hop_length / DOWNSAMPLE)


def _grid_file(codec: Codec, grid: np.ndarray, num_samples: int, **fields: Any) -> CodesFile:
    rows, cols, _ = grid.shape
    return CodesFile(
        codes=grid.reshape(1, rows * cols, -1).astype(codes_dtype(codec.model.codebook_size)),
        spatial_shape=np.array([[rows, cols]], np.int64),
        chunk_starts=np.zeros(1, np.int64),
        chunk_frames=cols * DOWNSAMPLE,
        chunk_hop_frames=cols * DOWNSAMPLE,
        chunk_duration_s=codec.chunk_duration_s,
        num_frames=frames_for(num_samples, codec.settings.hop_length),
        num_samples=int(num_samples),
        settings=codec.settings,
        codebook_size=codec.model.codebook_size,
        num_quantizers=codec.model.num_quantizers,
        model_config=codec.model_config,
        run_config=codec.run_config,
        weights_sha256=codec.weights_sha256,
        layout="grid",
        **fields,
    )


def encode_grid_file(
    codec: Codec,
    path: str | os.PathLike[str],
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    source_name: str | None = None,
) -> CodesFile:
    """Encode one audio file to a layout ``"grid"`` :class:`CodesFile` (one whole-file grid).

    The file is read in blocks and its whole log-mel (``[n_mels, F]``, 14 MB for 10 min) is
    encoded by :func:`encode_grid`. Raises ``BadAudioFile`` like ``encode_file``.
    """
    s = codec.settings
    reader = AudioReader(path, s.sample_rate, codec.normalize_peak, block_samples)
    mel = np.concatenate(list(stream_mel(reader.blocks(), reader.num_samples, s)), axis=1)
    grid = encode_grid(codec.model, torch.from_numpy(mel)).numpy()
    return _grid_file(
        codec,
        grid,
        reader.num_samples,
        normalize_peak=codec.normalize_peak,
        peak_gain=reader.gain,
        source_sample_rate=reader.source_sample_rate,
        source_num_samples=reader.source_num_samples,
        source_name=source_name or Path(path).name,
    )


def grid_codes_file(
    codec: Codec,
    grid: np.ndarray,
    num_samples: int,
    source_name: str,
    generator: dict[str, Any],
) -> CodesFile:
    """A valid layout ``"grid"`` :class:`CodesFile` for generated codes (no source audio).

    Args:
        codec: the VQ-VAE whose codes ``grid`` holds (its identity goes into the file).
        grid: integer codes ``[rows, cols, Q]`` with ``rows = ceil(n_mels / 16)``,
            ``1 <= Q <= num_quantizers`` and values in ``[0, codebook_size)``.
        num_samples: output length at the codec's sample rate; ``ceil(ceil(num_samples / hop) /
            16)`` must equal ``cols`` (``cols * 16 * hop_length`` uses the whole grid).
        source_name: a name for the file (e.g. ``"prior_sample_000"``).
        generator: JSON-serialisable provenance (prior checkpoint, seed, temperature, top_k,
            top_p, prompt, ...).

    The file records ``source_sample_rate = sample_rate``, ``source_num_samples =
    num_samples``, ``normalize_peak = False`` and ``peak_gain = 1.0``; ``save_codes(...)`` then
    ``python -m rvqvae.decode ckpt=... input=...`` decodes it.

    Raises:
        CodecError: a grid, length or generator that does not fit (one line).
    """
    g = np.asarray(grid)
    s, model = codec.settings, codec.model
    rows = grid_columns(s.n_mels)
    if g.ndim != 3 or g.shape[0] != rows or not 1 <= g.shape[2] <= model.num_quantizers:
        raise CodecError(
            f"grid must be [rows={rows}, cols, levels <= {model.num_quantizers}], "
            f"got {tuple(g.shape)}"
        )
    if g.dtype.kind not in "iu" or (g.size and (g.min() < 0 or g.max() >= model.codebook_size)):
        raise CodecError(f"grid must hold integer codes in [0, {model.codebook_size - 1}]")
    cols = int(g.shape[1])
    n = int(num_samples)
    if cols < 1 or n < 1 or grid_columns(frames_for(n, s.hop_length)) != cols:
        most = cols * DOWNSAMPLE * s.hop_length
        raise CodecError(
            f"num_samples={num_samples} does not fit a grid of {cols} columns: "
            f"use {most - DOWNSAMPLE * s.hop_length + 1} .. {most}"
        )
    if not isinstance(generator, dict):
        raise CodecError(f"generator must be a dict, got {type(generator).__name__}")
    try:
        json.dumps(generator)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"generator is not JSON-serialisable ({exc})") from None
    return _grid_file(
        codec,
        g,
        n,
        normalize_peak=False,
        peak_gain=1.0,
        source_sample_rate=s.sample_rate,
        source_num_samples=n,
        source_name=str(source_name),
        generator=dict(generator),
    )


def decode_grid_file(
    codec: Codec, codes: CodesFile, levels: int | None = None
) -> Iterator[np.ndarray]:
    """Mel blocks ``[n_mels, f]`` of a layout ``"grid"`` file, concatenating to
    ``[n_mels, num_frames]`` (the decoder over the whole grid, in column blocks).

    Raises:
        CodecError: codes this model cannot decode.
    """
    grid = torch.from_numpy(codes.grid.astype(np.int64))
    blocks = decode_grid_blocks(codec.model, grid, codes.num_frames, codec.settings.n_mels, levels)
    try:
        for mel in blocks:
            yield mel.numpy()
    except (ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CodecError(f"codes cannot be decoded by this model: {first}") from None
