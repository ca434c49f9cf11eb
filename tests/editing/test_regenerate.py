"""Regenerating ranges with the session's tiny prior: inpainting (left context, rescoring),
variation, the forced-token scores against the prior's teacher-forced NLL, determinism."""

from __future__ import annotations

import pytest
import torch

from rvqvae.editing.ranges import ColumnRange, EditError
from rvqvae.editing.regenerate import range_nll, regenerate
from rvqvae.editing.sources import load_source
from rvqvae.prior.sampling import SamplingSettings

SETTINGS = SamplingSettings(1.0, 0, 1.0)


@pytest.fixture(scope="module")
def grid(loaded_prior, tones) -> torch.Tensor:
    return load_source(loaded_prior.codec, tones[1]).grid


def test_inpaint_changes_only_the_range_and_is_deterministic(loaded_prior, grid) -> None:
    span = ColumnRange(3, 6, 0.17)
    one = regenerate(loaded_prior.prior, grid, span, SETTINGS, seed=5)
    assert torch.equal(one.grid[:, :3], grid[:, :3]) and torch.equal(one.grid[:, 6:], grid[:, 6:])
    assert torch.equal(one.grid, regenerate(loaded_prior.prior, grid, span, SETTINGS, 5).grid)
    others = [regenerate(loaded_prior.prior, grid, span, SETTINGS, s).grid for s in (6, 7)]
    assert any(not torch.equal(o[:, 3:6], one.grid[:, 3:6]) for o in others)


def test_fill_in_the_middle_uses_both_sides_and_keeps_the_rest(loaded_prior, grid) -> None:
    """method=fim on the session's prior (trained with prior.model.fim_rate=0.5): only the range
    changes, a seed repeats, a variation keeps its levels; the window spans both sides."""
    prior, span = loaded_prior.prior, ColumnRange(3, 5, 0.17)
    one = regenerate(prior, grid, span, SETTINGS, seed=4, method="fim")
    assert torch.equal(one.grid[:, :3], grid[:, :3]) and torch.equal(one.grid[:, 5:], grid[:, 5:])
    assert torch.equal(one.grid, regenerate(prior, grid, span, SETTINGS, 4, method="fim").grid)
    # 8 columns of context - 2 in the range: 3 on each side (the grid has more on both)
    assert (one.right.start, one.right.end) == (5, 8)
    fills = [
        regenerate(prior, grid, span, SETTINGS, s, method="fim").grid[:, 3:5] for s in range(4)
    ]
    assert any(not torch.equal(f, fills[0]) for f in fills[1:])
    varied = regenerate(
        prior, grid, ColumnRange(2, 6, 0.17), SETTINGS, 1, levels_from=1, method="fim"
    )
    assert torch.equal(varied.grid[..., :1], grid[..., :1])


def test_fill_in_the_middle_refuses_what_it_cannot_do(loaded_prior, grid) -> None:
    from rvqvae.prior.model import build_prior

    hp = {k: v for k, v in loaded_prior.prior.hparams_dict.items() if k != "fim_rate"}
    causal_only = build_prior(**hp).eval()
    with pytest.raises(EditError, match="fim_rate"):
        regenerate(causal_only, grid, ColumnRange(3, 5, 0.17), SETTINGS, 0, method="fim")
    with pytest.raises(EditError, match="at most 7 columns"):
        regenerate(loaded_prior.prior, grid, ColumnRange(0, 8, 0.17), SETTINGS, 0, method="fim")


def test_variation_keeps_the_levels_below_k(loaded_prior, grid) -> None:
    span = ColumnRange(2, 7, 0.17)
    out = regenerate(loaded_prior.prior, grid, span, SETTINGS, seed=1, levels_from=1)
    assert torch.equal(out.grid[..., :1], grid[..., :1])
    assert torch.equal(out.grid[:, :2], grid[:, :2]) and torch.equal(out.grid[:, 7:], grid[:, 7:])
    assert not torch.equal(out.grid[:, 2:7, 1:], grid[:, 2:7, 1:])


def test_rescoring_keeps_the_fill_the_right_context_likes_best(loaded_prior, grid) -> None:
    prior = loaded_prior.prior
    span = ColumnRange(2, 4, 0.17)  # with 2 right columns the whole window fits one context
    out = regenerate(prior, grid, span, SETTINGS, seed=2, candidates=4, right_columns=2)
    assert out.fills.shape[0] == 4 and out.chosen == int(out.right_log_prob.argmax())
    assert torch.equal(out.grid[:, 2:4], out.fills[out.chosen])
    # each candidate's score is the prior's teacher-forced NLL of the two columns after it
    for k in range(4):
        edited = grid.clone()
        edited[:, 2:4] = out.fills[k]
        columns = prior.layout.to_columns(edited)[None, :6]
        forced = prior.token_nll(columns)[0, 4:6].sum()
        assert float(-out.right_log_prob[k]) == pytest.approx(float(forced), rel=1e-4)
        assert range_nll(prior, edited, ColumnRange(4, 6, 0.17)) == pytest.approx(
            float(forced), rel=1e-4
        )


def test_weighted_selection_draws_a_candidate_deterministically(loaded_prior, grid) -> None:
    span = ColumnRange(2, 4, 0.17)
    runs = [
        regenerate(loaded_prior.prior, grid, span, SETTINGS, 3, 0, 4, 2, "weighted")
        for _ in range(2)
    ]
    assert runs[0].chosen == runs[1].chosen and torch.equal(runs[0].grid, runs[1].grid)
    assert torch.equal(runs[0].grid[:, 2:4], runs[0].fills[runs[0].chosen])
    with pytest.raises(EditError, match="select must be best or weighted"):
        regenerate(loaded_prior.prior, grid, span, SETTINGS, 3, 0, 4, 2, "first")


def test_a_prior_of_other_grids_is_refused_in_one_line(loaded_prior, grid) -> None:
    with pytest.raises(EditError, match="use the prior trained on the VQ-VAE that wrote them"):
        regenerate(loaded_prior.prior, grid[..., :1], ColumnRange(1, 2, 0.17), SETTINGS)
