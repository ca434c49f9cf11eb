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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.models.codebook import codebook_utilization, codebook_utilization_from_counts
from rvqvae.models.quantizer import QuantizerWrapper, check_int

__all__ = [
    "ConvVQVAE",
    "QuantizerWrapper",
    "ResidualBlock",
    "VQDecoder",
    "VQEncoder",
    "code_positions",
    "codebook_utilization",
    "codebook_utilization_from_counts",
    "latent_shape",
]

DOWNSAMPLE = 16  # 4 stride-2 layers
ENCODER_CHANNELS = (1, 32, 64, 128, 256)


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


class ResidualBlock(nn.Module):
    """``x + BN(conv1x1(ReLU(BN(conv3x3(ReLU(x))))))`` at ``channels``, through a bottleneck of
    ``channels // 4`` (at least 8): the VQ-VAE paper's residual block (van den Oord et al.,
    2017) with batch norm. The last norm's scale starts at zero, so a new block is the identity
    and a model with blocks starts as the model without them."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(8, channels // 4)
        self.body = nn.Sequential(
            nn.ReLU(),  # not in place: x is the skip path
            nn.Conv2d(channels, hidden, kernel_size=3, padding=1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1),
            nn.BatchNorm2d(channels),
        )
        nn.init.zeros_(self.body[-1].weight)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)  # [B, C, H, W]


def _residual_blocks(channels: int, count: int) -> list[nn.Module]:
    return [ResidualBlock(channels) for _ in range(count)]


class VQEncoder(nn.Module):
    """Conv encoder: ``[B, 1, n_mels, T]`` -> ``[B, codebook_dim, ceil(n_mels/16), ceil(T/16)]``;
    ``residual_blocks`` :class:`ResidualBlock` s follow each strided convolution."""

    def __init__(
        self, codebook_dim: int = 128, dropout: float = 0.2, residual_blocks: int = 0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in zip(ENCODER_CHANNELS[:-1], ENCODER_CHANNELS[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.Dropout2d(dropout),
                *_residual_blocks(c_out, residual_blocks),
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
    """Transposed-conv decoder: ``[B, codebook_dim, H, W]`` -> ``[B, 1, 16H, 16W]`` (cropped);
    ``residual_blocks`` :class:`ResidualBlock` s precede each transposed convolution (the
    encoder's mirror)."""

    def __init__(
        self, codebook_dim: int = 128, dropout: float = 0.2, residual_blocks: int = 0
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(codebook_dim, ENCODER_CHANNELS[-1], kernel_size=1)
        channels = ENCODER_CHANNELS[::-1]  # 256 -> 128 -> 64 -> 32 -> 1
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            layers += _residual_blocks(c_in, residual_blocks)
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


class ConvVQVAE(nn.Module):
    """Conv encoder -> residual VQ -> conv decoder over log-mel spectrograms.

    ``forward(x [B, 1, n_mels, T]) -> (recon [B, 1, n_mels, T], indices [B, H*W, Q], commit_loss)``.
    ``quantize_dropout`` trains the decoder on the first k levels too (see
    :class:`QuantizerWrapper`), so ``decode_codes(..., levels=k)`` is something it learned.
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
        quantize_dropout: bool = False,
        quantize_dropout_cutoff_index: int = 0,
        use_cosine_sim: bool = False,
        rotation_trick: bool | None = None,
        codebook_projection_dim: int | None = None,
        residual_blocks: int = 0,
    ) -> None:
        super().__init__()
        check_int("codebook_dim", codebook_dim, 1)
        check_int("residual_blocks", residual_blocks, 0)
        check_int("codebook_size", codebook_size, 2)
        check_int("num_quantizers", num_quantizers, 1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.codebook_dim = codebook_dim
        self.codebook_size = codebook_size
        self.num_quantizers = num_quantizers
        self.encoder = VQEncoder(codebook_dim, dropout, residual_blocks)
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
            quantize_dropout=quantize_dropout,
            quantize_dropout_cutoff_index=quantize_dropout_cutoff_index,
            use_cosine_sim=use_cosine_sim,
            rotation_trick=rotation_trick,
            projection_dim=codebook_projection_dim,
        )
        self.decoder = VQDecoder(codebook_dim, dropout, residual_blocks)
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
        so passing the first k levels decodes with those levels only (in distribution only
        for a model trained with quantizer dropout: :meth:`trained_levels`).
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
        seq = self.quantizer.get_output_from_indices(indices.long())  # [B, H*W, D]
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

    @property
    def quantize_dropout(self) -> bool:
        """True when training drew a random number of levels per step (quantizer dropout)."""
        return self.quantizer.quantize_dropout

    def trained_levels(self, levels: int) -> bool:
        """True when the first ``levels`` levels are a decoder input seen in training."""
        return self.quantizer.trained_levels(levels)

    def bitrate_bps(self, positions_per_second: float) -> float:
        """Bits per second: positions/s x levels x log2(codebook_size)."""
        return positions_per_second * self.num_quantizers * math.log2(self.codebook_size)
