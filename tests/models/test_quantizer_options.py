"""Quantizer options of vector-quantize-pytorch (model.use_cosine_sim, model.rotation_trick,
model.codebook_projection_dim): the defaults are the behaviour before they existed, and each
option reaches the library."""

from __future__ import annotations

import pytest
import torch

from rvqvae.models.vqvae import ConvVQVAE


def small(**options: object) -> ConvVQVAE:
    return ConvVQVAE(codebook_dim=16, codebook_size=8, num_quantizers=2, dropout=0.0, **options)


def test_defaults_are_todays_quantizer() -> None:
    rvq = small().quantizer.rvq
    assert all(layer.rotation_trick and not layer.use_cosine_sim for layer in rvq.layers)
    assert isinstance(rvq.project_in, torch.nn.Identity)  # no codebook projection


def test_codebook_projection_looks_up_low_dimensional_codes_and_trains() -> None:
    model = small(codebook_projection_dim=4)
    rvq = model.quantizer.rvq
    assert rvq.project_in.weight.shape == (4, 16) and rvq.codebooks.shape == (2, 8, 4)
    x = torch.rand(4, 1, 128, 32)
    model.quantizer.init_codebooks(model.encode(x).permute(0, 2, 3, 1).reshape(1, -1, 16))
    recon, indices, loss = model(x)
    (recon.mean() + loss).backward()
    assert recon.shape == x.shape and indices.shape == (4, 16, 2)
    assert rvq.project_in.weight.grad is not None and model.encoder.proj.weight.grad is not None
    model.eval()
    with torch.no_grad():  # codes decode to the projected-back sum of the looked-up codes
        emb = model.codes_to_embeddings(indices, (8, 2))
        looked_up = rvq.codebooks[0][indices[..., 0]] + rvq.codebooks[1][indices[..., 1]]
        want = rvq.project_out(looked_up).reshape(4, 8, 2, 16).permute(0, 3, 1, 2)
    torch.testing.assert_close(emb, want)


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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("use_cosine_sim", "yes", "must be true or false"),
        ("rotation_trick", 1, "must be true or false"),
        ("codebook_projection_dim", 0, "must be an integer >= 1"),
    ],
)
def test_bad_value_is_one_line(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"{name} {message}"):
        small(**{name: value})
