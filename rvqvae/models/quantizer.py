"""Residual VQ over vector sequences: wraps ``vector_quantize_pytorch.ResidualVQ``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from vector_quantize_pytorch import ResidualVQ

from rvqvae.models.codebook import codebook_utilization


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _initted_flag(layer: nn.Module) -> Tensor:
    """The k-means-initialised flag (a bool buffer) of one ``VectorQuantize`` level.

    The one read of a private attribute of vector-quantize-pytorch (``_codebook.initted``): the
    library has no public accessor for it, hence its upper bound in pyproject.toml.
    """
    return layer._codebook.initted


def _check_quantize_dropout(enabled: Any, cutoff_index: Any, num_quantizers: int) -> None:
    if not isinstance(enabled, bool):
        raise ValueError(f"quantize_dropout must be true or false, got {enabled!r}")
    check_int("quantize_dropout_cutoff_index", cutoff_index, 0)
    if cutoff_index >= num_quantizers:
        raise ValueError(
            f"quantize_dropout_cutoff_index must be < num_quantizers={num_quantizers} (levels "
            f"always kept - 1), got {cutoff_index}"
        )


class QuantizerWrapper(nn.Module):
    """Residual VQ over a sequence of vectors, wrapping ``vector_quantize_pytorch.ResidualVQ``.

    ``forward([B, N, D]) -> (quantized [B, N, D], indices [B, N, Q], commit_loss scalar)``.
    The per-level commitment losses (already weighted by ``commitment_weight``) of the last
    forward call are kept in ``last_level_losses`` ``[Q]``; in eval mode they are zero.

    ``quantize_dropout``: in training, each step keeps only the first k levels (k drawn
    uniformly from ``cutoff_index + 1 .. Q``; the dropped levels' indices are -1), so the
    decoder learns to decode partial sums - what decoding with fewer levels feeds it. Eval mode
    always uses every level.

    ``use_cosine_sim``: l2-normalised inputs and codebooks (the library's cosine-similarity
    codebooks); ``rotation_trick``: gradients through the quantizer by the rotation trick
    (``None``: the library's default, on for ``dim > 1``; ``False``: straight-through);
    ``projection_dim``: the library's low-dimensional codebook lookup (``ResidualVQ``'s
    ``codebook_dim``: a learned projection ``dim -> projection_dim`` before the levels and back
    after them; ``None``: none, codes of size ``dim``).
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
        quantize_dropout: bool = False,
        quantize_dropout_cutoff_index: int = 0,
        use_cosine_sim: bool = False,
        rotation_trick: bool | None = None,
        projection_dim: int | None = None,
    ) -> None:
        super().__init__()
        check_int("dim", dim, 1)
        if projection_dim is not None:
            check_int("codebook_projection_dim", projection_dim, 1)
        check_int("codebook_size", codebook_size, 2)
        check_int("num_quantizers", num_quantizers, 1)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        if commitment_weight < 0:
            raise ValueError(f"commitment_weight must be >= 0, got {commitment_weight!r}")
        _check_quantize_dropout(quantize_dropout, quantize_dropout_cutoff_index, num_quantizers)
        for name, value in (("use_cosine_sim", use_cosine_sim), ("rotation_trick", rotation_trick)):
            if not (isinstance(value, bool) or (value is None and name == "rotation_trick")):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        self.dim = dim
        self.codebook_size = codebook_size
        self.num_quantizers = num_quantizers
        # a single level has nothing to drop (the library ignores the flag too)
        self.quantize_dropout = bool(quantize_dropout) and num_quantizers > 1
        self.quantize_dropout_cutoff_index = int(quantize_dropout_cutoff_index)
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
            quantize_dropout=self.quantize_dropout,
            quantize_dropout_cutoff_index=self.quantize_dropout_cutoff_index,
            use_cosine_sim=use_cosine_sim,
            rotation_trick=rotation_trick,
            codebook_dim=projection_dim,
        )
        self.last_level_losses: Tensor = torch.zeros(num_quantizers)

    def trained_levels(self, levels: int) -> bool:
        """True when decoding with the first ``levels`` levels is what training showed the decoder:
        all levels, or (with quantizer dropout) at least ``cutoff_index + 1`` of them."""
        if levels >= self.num_quantizers:
            return True
        return self.quantize_dropout and levels > self.quantize_dropout_cutoff_index

    @property
    def initted(self) -> bool:
        """True once every level's codebook has been initialised (k-means or no k-means)."""
        return all(bool(_initted_flag(layer)) for layer in self.rvq.layers)

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
                _initted_flag(layer).data.fill_(False)
        was_training = self.training
        self.eval()
        try:
            self.rvq(vectors)
        finally:
            self.train(was_training)

    def get_output_from_indices(self, indices: Tensor) -> Tensor:
        """``[B, N, Q']`` indices (``-1`` = level not used) -> summed codes ``[B, N, D]``.

        ``Q' < Q`` (the first levels only) goes through the library as it is when the model was
        trained with quantizer dropout; without it the library refuses (the decoder never saw
        partial sums), so the missing levels are passed as -1 explicitly: the result is then
        out of distribution, and the callers (evaluate, decode) say so.
        """
        if indices.shape[-1] < self.num_quantizers and not self.quantize_dropout:
            indices = F.pad(indices, (0, self.num_quantizers - indices.shape[-1]), value=-1)
        return self.rvq.get_output_from_indices(indices)

    def get_codebook_utilization(self, indices: Tensor) -> dict[str, dict[str, float]]:
        """Per-level codebook health of ``indices`` ``[..., Q]``.

        Returns ``{"level_k": {"utilization", "perplexity", "dead_codes"}}`` where utilization is
        used codes / codebook size, perplexity is exp of the code-usage entropy (nats) and
        dead_codes is the number of codes never used. Entries equal to ``-1`` are ignored.
        """
        return codebook_utilization(indices, self.codebook_size)
