"""The exportable parts of a run as :class:`Graph` s: encoder, decoder, vocoder, prior.

A part that cannot be exported raises :class:`ExportError` with one line naming the reason
(the caller prefixes the part).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from rvqvae.codec.model import Codec
from rvqvae.data.mel import MelSettings
from rvqvae.export import ExportError
from rvqvae.export.codec_graphs import DecoderGraph, EncoderGraph
from rvqvae.export.formats import Graph, Tensorspec
from rvqvae.export.prior_graph import PriorStepGraph
from rvqvae.export.vocoder_graph import VocoderGraph
from rvqvae.safeload import CheckpointError
from rvqvae.vocoder.model import VocosGenerator

PARTS = ("encoder", "decoder", "vocoder", "prior")


def encoder_graph(codec: Codec) -> Graph:
    """Log-mel ``[batch, n_mels, frames]`` -> codes ``[batch, rows, columns, levels]``."""
    s, m = codec.settings, codec.model
    rows = -(-s.n_mels // 16)
    return Graph(
        "encoder",
        EncoderGraph(m),
        (torch.rand(1, s.n_mels, 50) * 4,),
        [Tensorspec("mel", ["batch", s.n_mels, "frames"], "float32")],
        [Tensorspec("codes", ["batch", rows, "columns", m.num_quantizers], "int64")],
        {"columns": "ceil(frames / 16)", "codebook_size": m.codebook_size},
    )


def decoder_graph(codec: Codec) -> Graph:
    """Codes ``[batch, rows, columns, levels]`` + ``levels`` -> log-mel."""
    s, m = codec.settings, codec.model
    rows = -(-s.n_mels // 16)
    codes = torch.randint(0, m.codebook_size, (1, rows, 4, m.num_quantizers))
    return Graph(
        "decoder",
        DecoderGraph(m, s.n_mels),
        (codes, torch.tensor(m.num_quantizers)),
        [
            Tensorspec("codes", ["batch", rows, "columns", m.num_quantizers], "int64"),
            Tensorspec("levels", [], "int64"),
        ],
        [Tensorspec("mel", ["batch", s.n_mels, "frames16"], "float32")],
        {
            "frames16": "16 * columns: keep the first frames of the file",
            "levels": f"decode with the first levels (1..{m.num_quantizers}); codes -1 count as 0",
            "trained_levels": [k for k in range(1, m.num_quantizers + 1) if m.trained_levels(k)],
        },
    )


def vocoder_graph(codec: Codec, spec: Any) -> Graph:
    """Log-mel ``[batch, n_mels, frames]`` -> audio ``[batch, frames * hop]``."""
    from rvqvae.vocoder.checkpoint import installed_vocoder, load_vocoder

    if spec in (None, "none", "null"):
        raise ExportError("vocoder_ckpt=null was given")
    path = installed_vocoder(codec.path) if spec == "auto" else Path(os.fspath(spec))
    if path is None:
        raise ExportError(
            f"the run of {codec.path} has no vocoder (RUN/vocoder/vocoder.ckpt): train one with "
            "python -m rvqvae.train_vocoder vqvae=RUN, or give vocoder_ckpt=PATH"
        )
    try:
        loaded = load_vocoder(path)
        loaded.check_settings(codec.settings)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    notes = {"checkpoint": str(path), "input": loaded.input}
    return generator_graph(loaded.generator, codec.settings, notes)


def generator_graph(
    generator: VocosGenerator, settings: MelSettings, notes: dict[str, Any]
) -> Graph:
    """The :class:`Graph` of a :class:`VocosGenerator` for mels of ``settings``."""
    s = settings
    return Graph(
        "vocoder",
        VocoderGraph(generator),
        (torch.rand(1, s.n_mels, 12) * 4,),
        [Tensorspec("mel", ["batch", s.n_mels, "frames"], "float32")],
        [Tensorspec("audio", ["batch", "samples"], "float32")],
        {"samples": f"frames * {s.hop_length}", **notes},
    )


def prior_graph(codec: Codec, spec: Any) -> Graph:
    """One sampling step of the flat prior with its KV cache."""
    from rvqvae.prior.checkpoint import load_prior

    if spec in (None, "none", "null"):
        raise ExportError(
            "no prior checkpoint given (prior_ckpt=PATH of python -m rvqvae.train_prior)"
        )
    try:
        loaded = load_prior(spec)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    if loaded.codec.weights_sha256 != codec.weights_sha256:
        raise ExportError(f"{spec} was trained on the codes of another VQ-VAE (weights differ)")
    step = PriorStepGraph(loaded.prior)
    p, t = loaded.prior, loaded.prior.transformer
    cache = [len(t.blocks), "batch", t.n_heads, "past", t.head_dim]
    present = [len(t.blocks), "batch", t.n_heads, "present", t.head_dim]
    past = p.bos.new_zeros(len(t.blocks), 1, t.n_heads, 3, t.head_dim)
    return Graph(
        "prior",
        step,
        (torch.zeros(1, dtype=torch.long), torch.full((1,), -1), torch.tensor(3), past, past),
        [
            Tensorspec("token", ["batch"], "int64"),
            Tensorspec("above", ["batch"], "int64"),
            Tensorspec("position", [], "int64"),
            Tensorspec("past_keys", cache, "float32"),
            Tensorspec("past_values", cache, "float32"),
        ],
        [
            Tensorspec("logits", ["batch", p.codebook_size], "float32"),
            Tensorspec("present_keys", present, "float32"),
            Tensorspec("present_values", present, "float32"),
        ],
        {
            "order": p.order,
            "hparams": p.hparams_dict,
            "slots": p.slots,
            "slot_level": p.slot_level.tolist(),
            "cache": {"layers": len(t.blocks), "heads": t.n_heads, "head_dim": t.head_dim},
            "slot_index": p.layout.slot_index().tolist(),
            "context_positions": p.context_columns * p.slots,
            "checkpoint": str(spec),
            "step": "position n = column * slots + slot within the window; token = code at "
            "n - 1 (ignored at 0); above = code of the same slot one column earlier (-1 in the "
            "window's first column); start a window with past of length 0",
            "window": "when column - start reaches context_columns, start a new window at "
            "column - (context_columns - max(1, context_columns // 4)) and feed its columns "
            "again step by step (FlatPrior.generate)",
        },
    )


def build_graph(part: str, codec: Codec, cfg: dict[str, Any]) -> Graph:
    """The :class:`Graph` of ``part`` (raises :class:`ExportError` with the reason)."""
    if part == "encoder":
        return encoder_graph(codec)
    if part == "decoder":
        return decoder_graph(codec)
    if part == "vocoder":
        return vocoder_graph(codec, cfg.get("vocoder_ckpt", "auto"))
    if part == "prior":
        return prior_graph(codec, cfg.get("prior_ckpt"))
    raise ExportError(f"unknown part (choose from {', '.join(PARTS)})")
