"""rvqvae: convolutional RVQ-VAEs on log-mel spectrograms, configured with Hydra."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rvqvae import resolvers as _resolvers  # noqa: F401  (registers OmegaConf resolvers)

if TYPE_CHECKING:
    from rvqvae.models.vqvae import ConvVQVAE

__all__ = ["load_model"]


def load_model(path: str, map_location: str = "cpu") -> ConvVQVAE:
    """Rebuild a trained :class:`ConvVQVAE` (eval mode) from a checkpoint file alone."""
    from rvqvae.training.checkpoint import load_model as _load

    return _load(path, map_location=map_location)
