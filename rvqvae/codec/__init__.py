"""RVQ-VAE as a tokenizer: audio -> codes files -> mel and audio, and checkpoint evaluation.

- :class:`Codec` (``Codec.from_checkpoint(path)``): a trained model with its mel settings and
  identity (model config + weights sha256).
- :func:`encode_file` / :func:`encode_path`: streaming encode to :class:`CodesFile`
  (``.codes.npz``; format in :mod:`rvqvae.codec.format`), layout ``"chunks"`` (overlapping
  chunks) or ``"grid"`` (one whole-file code grid).
- :func:`decode_file` / :func:`decode_to_mel`: mel, PNG, WAV (Griffin-Lim) of either layout.
- :func:`encode_grid` / :func:`decode_grid`: mels <-> code grids ``[rows, cols, Q]``;
  :func:`grid_codes_file`: a generated grid -> a codes file that ``rvqvae.decode`` decodes.
- :func:`evaluate_codec`: the figures of ``python -m rvqvae.evaluate``.
"""

from __future__ import annotations

from rvqvae.codec.decoding import decode_chunk_mels, decode_file, decode_path, decode_to_mel
from rvqvae.codec.encoding import encode_file, encode_path
from rvqvae.codec.evaluation import evaluate_codec, load_eval_chunks
from rvqvae.codec.format import (
    FORMAT_VERSION,
    LAYOUTS,
    CodecError,
    CodesFile,
    CodesFormatError,
    load_codes,
    save_codes,
)
from rvqvae.codec.grid import decode_grid, encode_grid, grid_codes_file
from rvqvae.codec.model import Codec, CodecMismatchError, weights_sha256

__all__ = [
    "FORMAT_VERSION",
    "LAYOUTS",
    "Codec",
    "CodecError",
    "CodecMismatchError",
    "CodesFile",
    "CodesFormatError",
    "decode_chunk_mels",
    "decode_file",
    "decode_grid",
    "decode_path",
    "decode_to_mel",
    "encode_file",
    "encode_grid",
    "encode_path",
    "evaluate_codec",
    "grid_codes_file",
    "load_codes",
    "load_eval_chunks",
    "save_codes",
    "weights_sha256",
]
