"""Export-safe encoder (log-mel -> codes) and decoder (codes -> log-mel) over a trained model.

vector-quantize-pytorch's ``ResidualVQ`` is not export-safe (state buffers steer its control
flow, einops reshapes, k-means init at the first call), so the nearest-code search is rewritten
here for inference only, over the same trained tensors: ``project_in``, per level the distance
the library computes (``-sqrt(max(|x|^2 + |e|^2 - 2 x.e, 1e-8))``), argmax, subtract the code,
then ``project_out``. The conv stacks are the library modules themselves (eval mode).
Tests check both graphs equal :func:`rvqvae.codec.grid.encode_grid` / ``decode_grid``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.export import ExportError
from rvqvae.models.vqvae import DOWNSAMPLE, ConvVQVAE


def _check_quantizer(model: ConvVQVAE) -> None:
    """Refuse (one line) the ResidualVQ options this search does not reproduce."""
    rvq = model.quantizer.rvq
    unsupported = []
    if getattr(rvq, "implicit_neural_codebook", False):
        unsupported.append("implicit_neural_codebook")
    if getattr(rvq, "eval_beam_size", None) not in (None, 1):
        unsupported.append("beam search")
    if getattr(rvq, "diveq", False):
        unsupported.append("diveq")
    for layer in rvq.layers:
        codebook = layer._codebook
        if getattr(layer, "heads", 1) != 1:
            unsupported.append("multi-head codebooks")
        if getattr(codebook, "use_cosine_sim", False):
            unsupported.append("cosine-similarity codebooks")
        if getattr(codebook, "vq_bridge", None) is not None:
            unsupported.append("a codebook bridge")
        if getattr(codebook, "affine_param", False):
            unsupported.append("affine codebooks")
        if getattr(layer, "has_projections", False):
            unsupported.append("per-level projections")
    if unsupported:
        raise ExportError(
            f"the quantizer uses {', '.join(sorted(set(unsupported)))}, which the export-safe "
            "nearest-code search does not reproduce"
        )


def trained_codebooks(model: ConvVQVAE) -> Tensor:
    """The trained codebooks ``[levels, codebook_size, dim]`` (a float32 copy)."""
    return model.quantizer.rvq.codebooks.detach().float().clone()


class EncoderGraph(nn.Module):
    """Log-mel ``[B, n_mels, frames]`` -> codes ``[B, rows, columns, levels]`` (int64)."""

    def __init__(self, model: ConvVQVAE) -> None:
        super().__init__()
        _check_quantizer(model)
        self.convs = model.encoder.convs
        self.proj = model.encoder.proj
        self.project_in = model.quantizer.rvq.project_in
        self.register_buffer("codebooks", trained_codebooks(model))
        self.register_buffer("codebook_sq", self.codebooks.square().sum(-1))  # [Q, K]

    def forward(self, mel: Tensor) -> Tensor:
        x = mel.unsqueeze(1)  # [B, 1, n_mels, F]
        pad_h = (DOWNSAMPLE - x.shape[2] % DOWNSAMPLE) % DOWNSAMPLE
        pad_w = (DOWNSAMPLE - x.shape[3] % DOWNSAMPLE) % DOWNSAMPLE
        x = F.pad(x, (0, pad_w, 0, pad_h))
        emb = self.proj(self.convs(x)).permute(0, 2, 3, 1)  # [B, rows, columns, D]
        residual = self.project_in(emb.float())
        codes = []
        for q in range(self.codebooks.shape[0]):
            book = self.codebooks[q]  # [K, D]
            sq = residual.square().sum(-1, keepdim=True)
            dist = (sq + self.codebook_sq[q] - 2.0 * torch.matmul(residual, book.t())).clamp(
                min=1e-8
            )
            index = torch.argmax(-dist.sqrt(), dim=-1)  # the library's argmax of -distance
            residual = residual - F.embedding(index, book)
            codes.append(index)
        return torch.stack(codes, dim=-1)


class DecoderGraph(nn.Module):
    """Codes ``[B, rows, columns, levels]`` + ``levels`` (the first K used) -> log-mel
    ``[B, n_mels, 16 * columns]`` (crop the frames to the file's length)."""

    def __init__(self, model: ConvVQVAE, n_mels: int) -> None:
        super().__init__()
        _check_quantizer(model)
        self.n_mels = int(n_mels)
        self.project_out = model.quantizer.rvq.project_out
        self.dec_proj = model.decoder.proj
        self.deconvs = model.decoder.deconvs
        self.register_buffer("codebooks", trained_codebooks(model))

    def forward(self, codes: Tensor, levels: Tensor) -> Tensor:
        total = torch.zeros_like(F.embedding(codes[..., 0].clamp(min=0), self.codebooks[0]))
        for q in range(self.codebooks.shape[0]):
            index = codes[..., q]
            used = ((index >= 0) & (levels > q)).unsqueeze(-1).to(total.dtype)
            total = total + F.embedding(index.clamp(min=0), self.codebooks[q]) * used
        emb = self.project_out(total).permute(0, 3, 1, 2)  # [B, D, rows, columns]
        return self.deconvs(self.dec_proj(emb))[:, 0, : self.n_mels]
