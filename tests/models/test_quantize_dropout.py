"""Quantizer dropout: training draws the number of levels, eval uses all, partial decoding is
what the decoder learned; models without it still decode partial levels (out of distribution)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from vector_quantize_pytorch import ResidualVQ

from rvqvae.models.vqvae import ConvVQVAE


def _levels_used(indices: torch.Tensor) -> int:
    """Number of leading levels with codes; asserts dropped levels are trailing and whole."""
    used = (indices >= 0).reshape(-1, indices.shape[-1]).all(dim=0)
    dropped = (indices == -1).reshape(-1, indices.shape[-1]).all(dim=0)
    assert bool((used | dropped).all()), "a level is partly dropped"
    k = int(used.sum())
    assert bool(used[:k].all()) and not bool(used[k:].any()), "dropped levels must be trailing"
    return k


@pytest.mark.parametrize(("cutoff", "expected"), [(0, {1, 2, 3}), (1, {2, 3})])
def test_training_steps_draw_levels_eval_uses_all(cutoff: int, expected: set[int]) -> None:
    torch.manual_seed(0)
    model = ConvVQVAE(
        codebook_dim=16,
        codebook_size=16,
        num_quantizers=3,
        quantize_dropout=True,
        quantize_dropout_cutoff_index=cutoff,
    )
    x = torch.rand(4, 1, 32, 32)
    model.init_codebooks(torch.rand(16, 1, 32, 32))
    seen = {_levels_used(model(x)[1]) for _ in range(40)}
    assert seen == expected
    model.eval()
    with torch.no_grad():
        assert all(_levels_used(model(x)[1]) == 3 for _ in range(5))


def test_without_dropout_training_uses_every_level() -> None:
    model = ConvVQVAE(codebook_dim=16, codebook_size=16, num_quantizers=3)
    model.init_codebooks(torch.rand(16, 1, 32, 32))
    assert all(_levels_used(model(torch.rand(4, 1, 32, 32))[1]) == 3 for _ in range(10))


@pytest.mark.parametrize("dropout", [True, False])
def test_first_k_levels_decode_as_minus_one_padding(dropout: bool) -> None:
    model = ConvVQVAE(codebook_size=32, num_quantizers=3, quantize_dropout=dropout).eval()
    x = torch.rand(4, 1, 128, 94)
    with torch.no_grad():
        model.init_codebooks(x)
        _, indices, _ = model(x)
        for k in (1, 2):
            padded = F.pad(indices[..., :k], (0, 3 - k), value=-1)
            torch.testing.assert_close(
                model.codes_to_embeddings(indices[..., :k], (8, 6)),
                model.codes_to_embeddings(padded, (8, 6)),
            )


def test_library_refuses_partial_levels_without_dropout() -> None:
    """Why the wrapper pads explicitly for models trained without quantizer dropout."""
    indices = torch.zeros(1, 4, 2, dtype=torch.long)
    with pytest.raises(AssertionError, match="quantize dropout"):
        ResidualVQ(dim=8, codebook_size=4, num_quantizers=3).get_output_from_indices(indices)
    with_dropout = ResidualVQ(dim=8, codebook_size=4, num_quantizers=3, quantize_dropout=True)
    assert with_dropout.get_output_from_indices(indices).shape == (1, 4, 8)


def test_trained_levels() -> None:
    off = ConvVQVAE(codebook_size=8, num_quantizers=3)
    on = ConvVQVAE(codebook_size=8, num_quantizers=3, quantize_dropout=True)
    cut = ConvVQVAE(
        codebook_size=8, num_quantizers=3, quantize_dropout=True, quantize_dropout_cutoff_index=1
    )
    assert [off.trained_levels(k) for k in (1, 2, 3)] == [False, False, True]
    assert [on.trained_levels(k) for k in (1, 2, 3)] == [True, True, True]
    assert [cut.trained_levels(k) for k in (1, 2, 3)] == [False, True, True]
    single = ConvVQVAE(codebook_size=8, num_quantizers=1, quantize_dropout=True)
    assert not single.quantize_dropout and single.trained_levels(1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantize_dropout_cutoff_index": 3}, "quantize_dropout_cutoff_index must be < "),
        ({"quantize_dropout_cutoff_index": -1}, "quantize_dropout_cutoff_index must be an"),
        ({"quantize_dropout": "yes"}, "quantize_dropout must be true or false"),
    ],
)
def test_invalid_dropout_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConvVQVAE(codebook_size=8, num_quantizers=3, **kwargs)


def test_dropout_training_feeds_the_decoder_partial_sums() -> None:
    """With quantizer dropout the decoder's training input is the sum of the first k levels'
    codes (what decode levels=k feeds it later); without it, always all levels."""
    for dropout in (True, False):
        torch.manual_seed(0)
        model = ConvVQVAE(
            codebook_dim=16, codebook_size=16, num_quantizers=3, quantize_dropout=dropout
        )
        model.init_codebooks(torch.rand(16, 1, 32, 32))
        fed: list[torch.Tensor] = []
        model.decoder.register_forward_pre_hook(lambda _m, args, fed=fed: fed.append(args[0]))
        seen = set()
        for _ in range(30):
            before = copy.deepcopy(model)  # the step's EMA update moves the codebooks after it
            _, indices, _ = model(torch.rand(4, 1, 32, 32))
            k = _levels_used(indices)
            seen.add(k)
            codes = indices[..., :k]  # the decoder input is exactly these levels' codebook sum
            expected = before.codes_to_embeddings(codes, (2, 2))
            torch.testing.assert_close(fed[-1], expected, atol=1e-5, rtol=1e-5)
        assert seen == ({1, 2, 3} if dropout else {3})
