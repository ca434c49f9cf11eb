"""Priors over code grids: layout, teacher forcing vs the KV-cache sampling path, determinism."""

from __future__ import annotations

import pytest
import torch

from rvqvae.prior.layout import GridLayout
from rvqvae.prior.model import build_prior
from rvqvae.prior.sampling import SamplingSettings, filter_logits, make_picker

SMALL = dict(rows=2, levels=3, codebook_size=5, d_model=32, n_layers=2, n_heads=4, dropout=0.0)


def _prior(order: str, slot_order: str = "level_major", context: int = 4):
    torch.manual_seed(0)
    return build_prior(order, slot_order=slot_order, context_columns=context, **SMALL).eval()


@pytest.mark.parametrize("slot_order", ["level_major", "row_major"])
def test_layout_round_trip_and_slot_levels(slot_order: str) -> None:
    layout = GridLayout(rows=3, levels=2, codebook_size=7, slot_order=slot_order)
    grid = torch.randint(0, 7, (4, 3, 5, 2))  # [B, rows, cols, levels]
    columns = layout.to_columns(grid)
    assert columns.shape == (4, 5, 6)
    assert torch.equal(layout.to_grid(columns), grid)
    # every slot holds the code of its (row, level): check against the grid directly
    index = layout.slot_index()
    for r in range(3):
        for q in range(2):
            assert torch.equal(columns[..., index[r, q]], grid[:, r, :, q])
    levels = layout.slot_level().tolist()
    expected = [0, 0, 0, 1, 1, 1] if slot_order == "level_major" else [0, 1, 0, 1, 0, 1]
    assert levels == expected


@pytest.mark.parametrize("order", ["flat", "depth"])
@pytest.mark.parametrize("columns", [4, 11])  # within one window, and sliding past it
def test_kv_cache_sampling_gives_the_full_pass_logits(order: str, columns: int) -> None:
    prior = _prior(order)
    recorded: list[torch.Tensor] = []
    g = torch.Generator().manual_seed(1)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        recorded.append(logits.clone())
        return torch.multinomial(logits.softmax(-1), 1, generator=g)[:, 0]

    out = prior.generate(2, columns, pick)
    cached = torch.stack(recorded, 1).reshape(2, columns, prior.slots, -1)
    start = 0
    for c in range(columns):  # the full pass over the window the sampler used for column c
        start = prior._window_start(c, start)
        full = prior(out[:, start : c + 1])[:, -1]
        torch.testing.assert_close(cached[:, c], full, atol=1e-5, rtol=1e-5)
    assert start > 0 if columns > 4 else start == 0


@pytest.mark.parametrize("order", ["flat", "depth"])
def test_sampling_is_deterministic_for_a_seed_and_keeps_the_prompt(order: str) -> None:
    prior = _prior(order)
    settings = SamplingSettings(temperature=1.0, top_k=3, top_p=0.9)

    def draw(seed: int, prompt=None):
        return prior.generate(
            3, 6, make_picker(settings, torch.Generator().manual_seed(seed)), prompt
        )

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
    prompt = torch.randint(0, 5, (3, 2, prior.slots))
    out = draw(7, prompt)
    assert torch.equal(out[:, :2], prompt)


def test_teacher_forced_logits_are_causal() -> None:
    """Changing a later code never changes the logits of earlier tokens."""
    for order in ("flat", "depth"):
        prior = _prior(order)
        x = torch.randint(0, 5, (1, 3, prior.slots))
        y = x.clone()
        y[0, 1, 3] = (y[0, 1, 3] + 1) % 5
        a, b = prior(x), prior(y)
        torch.testing.assert_close(a[0, 0], b[0, 0])
        torch.testing.assert_close(a[0, 1, :4], b[0, 1, :4])
        assert not torch.allclose(a[0, 2], b[0, 2])


def test_filter_logits_temperature_top_k_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = filter_logits(logits, SamplingSettings(top_k=2)).isfinite()
    assert kept.tolist() == [[True, True, False, False]]
    kept = filter_logits(logits, SamplingSettings(top_p=0.8)).isfinite()
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 + 0.3 reaches 0.8
    kept = filter_logits(logits, SamplingSettings(top_p=0.81)).isfinite()
    assert kept.tolist() == [[True, True, True, False]]
    kept = filter_logits(logits, SamplingSettings(top_p=0.01)).isfinite()
    assert kept.tolist() == [[True, False, False, False]]  # the most likely code always stays
    cold = filter_logits(logits, SamplingSettings(temperature=0.5)).softmax(-1)
    assert cold[0, 0] > 0.5 and torch.allclose(cold.sum(), torch.tensor(1.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0}, "temperature must be a number > 0"),
        ({"temperature": -1.0}, "temperature must be a number > 0"),
        ({"top_k": -1}, "top_k must be an integer >= 0"),
        ({"top_p": 0.0}, "top_p must be in (0, 1]"),
        ({"top_p": 1.5}, "top_p must be in (0, 1]"),
    ],
)
def test_bad_sampling_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SamplingSettings(**kwargs)


def test_bad_prior_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="prior.order must be one of flat, depth"):
        build_prior("spiral", **SMALL)
    with pytest.raises(ValueError, match="d_model .* divisible by n_heads"):
        build_prior("flat", **{**SMALL, "d_model": 30})
    with pytest.raises(ValueError, match="prior.context_columns must be a positive integer"):
        build_prior("flat", **SMALL, context_columns=0)
