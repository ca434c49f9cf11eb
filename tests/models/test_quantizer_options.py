"""Quantizer options of vector-quantize-pytorch (model.use_cosine_sim, model.rotation_trick):
the defaults are the behaviour before they existed, and each option reaches the library."""

from __future__ import annotations

import pytest
import torch

from rvqvae.models.vqvae import ConvVQVAE


def small(**options: object) -> ConvVQVAE:
    return ConvVQVAE(codebook_dim=16, codebook_size=8, num_quantizers=2, dropout=0.0, **options)


def test_defaults_are_todays_quantizer() -> None:
    layers = small().quantizer.rvq.layers
    assert all(layer.rotation_trick and not layer.use_cosine_sim for layer in layers)


def test_options_reach_every_level_and_train() -> None:
    model = small(use_cosine_sim=True, rotation_trick=False)
    assert all(
        layer.use_cosine_sim and not layer.rotation_trick for layer in model.quantizer.rvq.layers
    )
    x = torch.rand(4, 1, 128, 32)
    model.quantizer.init_codebooks(model.encode(x).permute(0, 2, 3, 1).reshape(1, -1, 16))
    recon, indices, loss = model(x)
    loss.backward()  # straight-through gradients reach the encoder
    assert recon.shape == x.shape and indices.shape == (4, 16, 2)
    assert model.encoder.proj.weight.grad is not None


@pytest.mark.parametrize(("name", "value"), [("use_cosine_sim", "yes"), ("rotation_trick", 1)])
def test_bad_value_is_one_line(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{name} must be true or false"):
        small(**{name: value})
