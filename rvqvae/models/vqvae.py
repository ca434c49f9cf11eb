"""Convolutional RVQ-VAE for log-mel spectrograms.

``ConvVQVAE`` is a discrete autoencoder: a 2-D conv encoder maps a log-mel ``[B, 1, n_mels, T]``
to a grid of ``codebook_dim``-dimensional vectors, a residual vector quantizer
(``vector_quantize_pytorch.ResidualVQ``) replaces each vector by a sum of ``num_quantizers``
codebook entries, and a mirrored transposed-conv decoder maps the quantized grid back to a mel.

Unlike a continuous VAE, ``forward`` returns ``(recon, indices, commit_loss)`` instead of
``(recon, mu, logvar)``; there is no N(0, 1) prior to sample from - generating new audio needs a
prior over the codes, trained separately on the indices this model produces.

Shapes for a 1 s mel at 48 kHz / hop 512 (128 mels x 94 frames)::

    x            [B, 1, 128, 94]
    padded       [B, 1, 128, 96]     (both dims padded up to a multiple of 16)
    encoder      [B, D, 8, 6]        (4 stride-2 convs, 1x1 projection to D = codebook_dim)
    RVQ input    [B, 48, D]          (48 positions)
    indices      [B, 48, Q]          (Q = num_quantizers)
    decoder      [B, 1, 128, 96] -> cropped to [B, 1, 128, 94]
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from vector_quantize_pytorch import ResidualVQ

DOWNSAMPLE = 16  # 4 stride-2 layers
ENCODER_CHANNELS = (1, 32, 64, 128, 256)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_mel(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"input must be a mel tensor of shape [B, 1, n_mels, T], got {shape}")
    if x.shape[0] < 1 or x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"input mel has an empty dimension: {tuple(x.shape)}")


def latent_shape(n_mels: int, n_frames: int) -> tuple[int, int]:
    """Spatial shape (H, W) of the encoder output for a mel of ``n_mels x n_frames``."""
    return math.ceil(n_mels / DOWNSAMPLE), math.ceil(n_frames / DOWNSAMPLE)


def code_positions(n_mels: int, chunk_frames: int) -> int:
    """Code positions (H * W) of one ``n_mels x chunk_frames`` chunk: 48 for 128 x 94."""
    h, w = latent_shape(n_mels, chunk_frames)
    return h * w


class VQEncoder(nn.Module):
    """Conv encoder: ``[B, 1, n_mels, T]`` -> ``[B, codebook_dim, ceil(n_mels/16), ceil(T/16)]``."""

    def __init__(self, codebook_dim: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in zip(ENCODER_CHANNELS[:-1], ENCODER_CHANNELS[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.Dropout2d(dropout),
            ]
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Conv2d(ENCODER_CHANNELS[-1], codebook_dim, kernel_size=1)
        self._padded_shape: tuple[int, int] | None = None

    def forward(self, x: Tensor) -> Tensor:
        _check_mel(x)
        n_mels, n_frames = x.shape[2], x.shape[3]
        pad_h = (-n_mels) % DOWNSAMPLE
        pad_w = (-n_frames) % DOWNSAMPLE
        x = F.pad(x, (0, pad_w, 0, pad_h))  # zero pad bottom/right: [B, 1, H16, W16]
        self._padded_shape = (x.shape[2], x.shape[3])
        return self.proj(self.convs(x))  # [B, D, H16/16, W16/16]


class VQDecoder(nn.Module):
    """Transposed-conv decoder: ``[B, codebook_dim, H, W]`` -> ``[B, 1, 16H, 16W]`` (cropped)."""

    def __init__(self, codebook_dim: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(codebook_dim, ENCODER_CHANNELS[-1], kernel_size=1)
        channels = ENCODER_CHANNELS[::-1]  # 256 -> 128 -> 64 -> 32 -> 1
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1))
            if i < len(channels) - 2:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.Dropout2d(dropout)]
            else:
                layers.append(nn.Softplus())  # mel values are log1p(power) >= 0
        self.deconvs = nn.Sequential(*layers)

    def forward(self, x: Tensor, target_shape: tuple[int, int] | None = None) -> Tensor:
        out = self.deconvs(self.proj(x))  # [B, 1, 16H, 16W]
        if target_shape is not None:
            out = out[:, :, : target_shape[0], : target_shape[1]]
        return out


class QuantizerWrapper(nn.Module):
    """Residual VQ over a sequence of vectors, wrapping ``vector_quantize_pytorch.ResidualVQ``.

    ``forward([B, N, D]) -> (quantized [B, N, D], indices [B, N, Q], commit_loss scalar)``.
    The per-level commitment losses (already weighted by ``commitment_weight``) of the last
    forward call are kept in ``last_level_losses`` ``[Q]``; in eval mode they are zero.
    """

    def __init__(
        self,
        dim: int = 128,
        codebook_size: int = 256,
        num_quantizers: int = 3,
        decay: float = 0.95,
        commitment_weight: float = 0.25,
        threshold_ema_dead_code: float = 2,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        sync_codebook: bool | None = None,
    ) -> None:
        super().__init__()
        _check_int("dim", dim, 1)
        _check_int("codebook_size", codebook_size, 2)
        _check_int("num_quantizers", num_quantizers, 1)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        if commitment_weight < 0:
            raise ValueError(f"commitment_weight must be >= 0, got {commitment_weight!r}")
        self.dim = dim
        self.codebook_size = codebook_size
        self.num_quantizers = num_quantizers
        self.rvq = ResidualVQ(
            dim=dim,
            codebook_size=codebook_size,
            num_quantizers=num_quantizers,
            decay=decay,
            commitment_weight=commitment_weight,
            threshold_ema_dead_code=threshold_ema_dead_code,
            kmeans_init=kmeans_init,
            kmeans_iters=kmeans_iters,
            sync_codebook=sync_codebook,
        )
        self.last_level_losses: Tensor = torch.zeros(num_quantizers)

    @property
    def initted(self) -> bool:
        """True once every level's codebook has been initialised (k-means or no k-means)."""
        return all(bool(layer._codebook.initted) for layer in self.rvq.layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        quantized, indices, losses = self.rvq(x)
        # losses: [Q] (one weighted commitment loss per level) or [..., Q] in other modes
        level_losses = losses.reshape(-1, self.num_quantizers).mean(dim=0)
        self.last_level_losses = level_losses.detach()
        return quantized, indices, level_losses.sum()

    @torch.no_grad()
    def init_codebooks(self, vectors: Tensor, force: bool = False) -> None:
        """Initialise every level's codebook by k-means on ``vectors`` ``[N, D]`` or ``[B, N, D]``.

        Level k is fitted on the residuals left by levels < k. Runs in eval mode so no EMA update
        or dead-code replacement happens. Use several times ``codebook_size`` vectors: too few
        leave the deep levels initialised near zero. ``force=True`` re-initialises.
        """
        if self.initted and not force:
            return
        if vectors.ndim == 2:
            vectors = vectors.unsqueeze(0)
        n_vectors = vectors.shape[0] * vectors.shape[1]
        if n_vectors < self.codebook_size:
            raise ValueError(
                f"codebook init needs at least codebook_size={self.codebook_size} vectors, "
                f"got {n_vectors}: use a larger init batch"
            )
        if force:
            for layer in self.rvq.layers:
                layer._codebook.initted.data.fill_(False)
        was_training = self.training
        self.eval()
        try:
            self.rvq(vectors)
        finally:
            self.train(was_training)

    def get_output_from_indices(self, indices: Tensor) -> Tensor:
        """``[B, N, Q]`` indices (``-1`` = level not used) -> summed codes ``[B, N, D]``."""
        return self.rvq.get_output_from_indices(indices)

    def get_codebook_utilization(self, indices: Tensor) -> dict[str, dict[str, float]]:
        """Per-level codebook health of ``indices`` ``[..., Q]``.

        Returns ``{"level_k": {"utilization", "perplexity", "dead_codes"}}`` where utilization is
        used codes / codebook size, perplexity is exp of the code-usage entropy (nats) and
        dead_codes is the number of codes never used. Entries equal to ``-1`` are ignored.
        """
        return codebook_utilization(indices, self.codebook_size)


def codebook_utilization(indices: Tensor, codebook_size: int) -> dict[str, dict[str, float]]:
    """Codebook health per level; see :meth:`QuantizerWrapper.get_codebook_utilization`."""
    flat = indices.reshape(-1, indices.shape[-1]).long().cpu()  # [N, Q]
    counts = torch.stack(
        [torch.bincount(col[col >= 0], minlength=codebook_size) for col in flat.unbind(dim=1)]
    )
    return codebook_utilization_from_counts(counts)


def codebook_utilization_from_counts(counts: Tensor) -> dict[str, dict[str, float]]:
    """Codebook health per level from code-usage counts ``[Q, codebook_size]``."""
    counts = counts.double()
    codebook_size = counts.shape[1]
    result: dict[str, dict[str, float]] = {}
    for level, level_counts in enumerate(counts):
        used = int((level_counts > 0).sum())
        total = level_counts.sum()
        perplexity = 0.0
        if total > 0:
            probs = level_counts[level_counts > 0] / total
            perplexity = float(torch.exp(-(probs * probs.log()).sum()))
        result[f"level_{level}"] = {
            "utilization": used / codebook_size,
            "perplexity": perplexity,
            "dead_codes": int(codebook_size - used),
        }
    return result


class ConvVQVAE(nn.Module):
    """Conv encoder -> residual VQ -> conv decoder over log-mel spectrograms.

    ``forward(x [B, 1, n_mels, T]) -> (recon [B, 1, n_mels, T], indices [B, H*W, Q], commit_loss)``.
    """

    def __init__(
        self,
        codebook_dim: int = 128,
        codebook_size: int = 256,
        num_quantizers: int = 3,
        decay: float = 0.95,
        commitment_weight: float = 0.25,
        threshold_ema_dead_code: float = 2,
        dropout: float = 0.2,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        sync_codebook: bool | None = None,
    ) -> None:
        super().__init__()
        _check_int("codebook_dim", codebook_dim, 1)
        _check_int("codebook_size", codebook_size, 2)
        _check_int("num_quantizers", num_quantizers, 1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.codebook_dim = codebook_dim
        self.codebook_size = codebook_size
        self.num_quantizers = num_quantizers
        self.encoder = VQEncoder(codebook_dim=codebook_dim, dropout=dropout)
        self.quantizer = QuantizerWrapper(
            dim=codebook_dim,
            codebook_size=codebook_size,
            num_quantizers=num_quantizers,
            decay=decay,
            commitment_weight=commitment_weight,
            threshold_ema_dead_code=threshold_ema_dead_code,
            kmeans_init=kmeans_init,
            kmeans_iters=kmeans_iters,
            sync_codebook=sync_codebook,
        )
        self.decoder = VQDecoder(codebook_dim=codebook_dim, dropout=dropout)
        self._spatial_shape: tuple[int, int] | None = None

    def encode(self, x: Tensor) -> Tensor:
        """Mel ``[B, 1, n_mels, T]`` -> continuous embeddings ``[B, D, H, W]``."""
        return self.encoder(x)

    def quantize(self, embeddings: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``[B, D, H, W]`` -> (quantized ``[B, D, H, W]``, indices ``[B, H*W, Q]``, loss)."""
        b, d, h, w = embeddings.shape
        seq = embeddings.permute(0, 2, 3, 1).reshape(b, h * w, d)  # [B, H*W, D]
        quantized, indices, commit_loss = self.quantizer(seq)
        quantized = quantized.reshape(b, h, w, d).permute(0, 3, 1, 2)  # [B, D, H, W]
        return quantized, indices, commit_loss

    def decode(self, quantized: Tensor, target_shape: tuple[int, int] | None = None) -> Tensor:
        """Quantized ``[B, D, H, W]`` -> mel ``[B, 1, 16H, 16W]`` cropped to ``target_shape``."""
        return self.decoder(quantized, target_shape=target_shape)

    def codes_to_embeddings(
        self, indices: Tensor, spatial_shape: tuple[int, int] | None = None
    ) -> Tensor:
        """Indices ``[B, H*W, Q']`` -> quantized embeddings ``[B, D, H, W]``.

        ``Q' <= num_quantizers``: missing levels (and entries equal to -1) contribute nothing,
        so passing the first k levels decodes with those levels only.
        """
        if spatial_shape is None:
            spatial_shape = self._spatial_shape
        if spatial_shape is None:
            raise ValueError("spatial_shape (H, W) is required: no forward pass has set it yet")
        h, w = spatial_shape
        if indices.ndim != 3 or indices.shape[1] != h * w:
            raise ValueError(
                f"indices must have shape [B, {h * w}, Q] for spatial_shape {spatial_shape}, "
                f"got {tuple(indices.shape)}"
            )
        n_levels = indices.shape[2]
        if not 1 <= n_levels <= self.num_quantizers:
            raise ValueError(
                f"indices have {n_levels} levels; this model has num_quantizers="
                f"{self.num_quantizers}"
            )
        if indices.numel() and (indices.max() >= self.codebook_size or indices.min() < -1):
            raise ValueError(
                f"indices must be in [0, {self.codebook_size - 1}] (or -1 for an unused level), "
                f"got range [{int(indices.min())}, {int(indices.max())}]"
            )
        indices = F.pad(indices.long(), (0, self.num_quantizers - n_levels), value=-1)
        seq = self.quantizer.get_output_from_indices(indices)  # [B, H*W, D]
        b = seq.shape[0]
        return seq.reshape(b, h, w, self.codebook_dim).permute(0, 3, 1, 2)

    def decode_codes(
        self,
        indices: Tensor,
        spatial_shape: tuple[int, int],
        target_shape: tuple[int, int] | None = None,
        levels: int | None = None,
    ) -> Tensor:
        """Indices ``[B, H*W, Q]`` -> mel ``[B, 1, n_mels, T]`` from the first ``levels`` levels."""
        if levels is not None:
            if not 1 <= levels <= self.num_quantizers:
                raise ValueError(f"levels must be in [1, {self.num_quantizers}], got {levels!r}")
            indices = indices[..., :levels]
        return self.decode(self.codes_to_embeddings(indices, spatial_shape), target_shape)

    @torch.no_grad()
    def init_codebooks(self, x: Tensor, force: bool = False) -> None:
        """Initialise the RVQ codebooks by k-means on the embeddings of mel batch ``x``.

        The encoder runs in the module's current mode (train mode matches what the quantizer
        sees during training). ``x`` should give several times ``codebook_size`` positions.
        """
        embeddings = self.encode(x)
        b, d, h, w = embeddings.shape
        self.quantizer.init_codebooks(embeddings.permute(0, 2, 3, 1).reshape(b * h * w, d), force)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        _check_mel(x)
        original_shape = (x.shape[2], x.shape[3])
        embeddings = self.encode(x)  # [B, D, H, W]
        self._spatial_shape = (embeddings.shape[2], embeddings.shape[3])
        quantized, indices, commit_loss = self.quantize(embeddings)
        recon = self.decode(quantized, target_shape=original_shape)
        return recon, indices, commit_loss

    def get_codebook_utilization(self, indices: Tensor) -> dict[str, dict[str, float]]:
        """Per-level codebook health; see :meth:`QuantizerWrapper.get_codebook_utilization`."""
        return self.quantizer.get_codebook_utilization(indices)

    def bitrate_bps(self, positions_per_second: float) -> float:
        """Bits per second: positions/s x levels x log2(codebook_size)."""
        return positions_per_second * self.num_quantizers * math.log2(self.codebook_size)
