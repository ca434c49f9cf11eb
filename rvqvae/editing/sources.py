"""What an edit starts from: a grid codes file or an audio file encoded on the fly.

:func:`load_source` returns an :class:`EditGrid` (the whole-file code grid, its length in
samples, a name and the edit history it carries). Codes from another VQ-VAE (weights hash,
model config or mel settings), chunk-layout files and files with fewer levels than the model
are refused in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rvqvae.codec.format import SUFFIX, CodesFile, check_decodable, load_codes
from rvqvae.codec.grid import encode_grid_file
from rvqvae.codec.model import Codec
from rvqvae.editing.ranges import EditError
from rvqvae.models.vqvae import DOWNSAMPLE


@dataclass
class EditGrid:
    """A code grid ``[rows, cols, Q]`` (long) with its length in samples and provenance."""

    grid: Tensor
    num_samples: int
    name: str
    history: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""

    @property
    def columns(self) -> int:
        return int(self.grid.shape[1])

    @property
    def levels(self) -> int:
        return int(self.grid.shape[2])


def samples_for(codec: Codec, columns: int, like: EditGrid | None = None) -> int:
    """Audio samples of a ``columns``-column result: ``like``'s length when it has as many
    columns, else whole columns."""
    if like is not None and like.columns == columns:
        return like.num_samples
    return int(columns) * DOWNSAMPLE * codec.settings.hop_length


def _history(codes: CodesFile) -> list[dict[str, Any]]:
    generator = dict(codes.generator or {})
    if "history" in generator:
        return list(generator["history"])
    return [{"generated": generator}] if generator else []


def from_codes(codec: Codec, codes: CodesFile) -> EditGrid:
    """An :class:`EditGrid` of a loaded codes file, checked against ``codec``."""
    where = codes.path or codes.source_name
    codec.check_compatible(codes)  # another VQ-VAE: one line naming both hashes
    model = codec.model
    check_decodable(codes, codec.settings, model.num_quantizers, model.codebook_size)
    if codes.layout != "grid":
        raise EditError(
            f"{where}: layout {codes.layout!r} (overlapping chunks) cannot be edited as one grid; "
            "re-encode it with python -m rvqvae.encode layout=grid (the default)"
        )
    grid = torch.from_numpy(np.asarray(codes.grid).astype(np.int64))
    if grid.shape[2] != model.num_quantizers:
        raise EditError(
            f"{where}: codes have {grid.shape[2]} of the model's {model.num_quantizers} levels; "
            "editing needs every level (re-encode the audio)"
        )
    return EditGrid(grid, codes.num_samples, codes.source_name, _history(codes), where)


def load_source(codec: Codec, path: str | os.PathLike[str], name: str = "input") -> EditGrid:
    """A grid codes file (``.codes.npz``) or an audio file (encoded with ``codec``'s VQ-VAE)."""
    p = Path(str(path)).expanduser()
    if not p.exists():
        raise EditError(f"{name}={path}: no such codes or audio file")
    if p.name.endswith(SUFFIX) or p.suffix == ".npz":
        return from_codes(codec, load_codes(p))
    codes = encode_grid_file(codec, p)  # BadAudioFile: one line
    grid = torch.from_numpy(codes.grid.astype(np.int64))
    return EditGrid(grid, codes.num_samples, p.name, [{"encoded": p.name}], str(p))
