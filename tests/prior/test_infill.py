"""Fill-in-the-middle: reordered teacher forcing, the cached infill path, and what it learns."""

from __future__ import annotations

import pytest
import torch

from rvqvae.prior.infill import fim_order, infill, infill_nll, reordered_nll, training_nll
from rvqvae.prior.model import build_prior

SMALL = dict(rows=2, levels=2, codebook_size=6, d_model=32, n_layers=2, n_heads=4, dropout=0.0)


def _prior(fim_rate: float, context: int = 6):
    torch.manual_seed(0)
    return build_prior("flat", context_columns=context, fim_rate=fim_rate, **SMALL).eval()


def test_fim_order_puts_prefix_suffix_middle_then_padding() -> None:
    order, segments = fim_order(6, 2, 4, columns=8)
    assert order.tolist() == [0, 1, 4, 5, 2, 3, 6, 7]
    assert segments.tolist() == [0, 0, 1, 1, 2, 2, 0, 0]
    with pytest.raises(ValueError, match="start < end"):
        fim_order(6, 3, 3)


def test_the_identity_order_is_the_ordinary_teacher_forced_nll() -> None:
    prior = _prior(0.0)
    columns = torch.randint(0, 6, (3, 5, prior.slots))
    order, segments = torch.arange(5), torch.zeros(5, dtype=torch.long)
    with torch.no_grad():
        assert torch.allclose(
            reordered_nll(prior, columns, order, segments), prior.token_nll(columns), atol=1e-5
        )


def test_the_middle_reads_only_what_comes_before_it_in_the_sequence() -> None:
    prior = _prior(0.5)
    columns = torch.randint(0, 6, (1, 6, prior.slots))
    order, segments = fim_order(6, 1, 3)  # sequence: 0, 3, 4, 5, then 1, 2
    with torch.no_grad():
        before = reordered_nll(prior, columns, order, segments)
        changed = columns.clone()
        changed[0, 2] = (changed[0, 2] + 1) % 6  # the middle's second column
        after = reordered_nll(prior, changed, order, segments)
    # prefix, suffix and the middle's first column come earlier: their NLL cannot change
    assert torch.allclose(before[0, [0, 3, 4, 5]], after[0, [0, 3, 4, 5]], atol=1e-6)
    assert torch.allclose(before[0, 1], after[0, 1], atol=1e-6)
    assert not torch.allclose(before[0, 2], after[0, 2])


def test_infill_draws_the_middle_from_the_teacher_forced_distribution() -> None:
    """The cached infill path picks from the same logits as the full reordered pass: with a
    picker that takes the argmax, infill's middle equals the greedy decode of the full pass."""
    prior = _prior(0.5)
    window = torch.randint(0, 6, (2, 6, prior.slots))
    seen = []

    def greedy(logits: torch.Tensor) -> torch.Tensor:
        seen.append(logits.clone())
        return logits.argmax(dim=-1)

    out = infill(prior, window, 2, 4, greedy)
    assert torch.equal(out[:, :2], window[:, :2]) and torch.equal(out[:, 4:], window[:, 4:])
    order, segments = fim_order(6, 2, 4)
    with torch.no_grad():  # the full pass on the result: the infilled tokens are its argmax
        nll = reordered_nll(prior, out, order, segments)
        logits = torch.stack(seen, dim=1)  # [B, 2 * S, K]
        best = torch.log_softmax(logits, dim=-1).max(dim=-1).values
    assert torch.allclose(nll[:, 2:4].flatten(1), -best, atol=1e-4)


def test_infill_keeps_the_kept_levels_and_refuses_a_prior_without_fim() -> None:
    prior = _prior(0.5)
    window = torch.randint(0, 6, (1, 5, prior.slots))
    keep = (prior.slot_level == 0)[None].expand(2, -1)  # a variation: level 0 stays
    gen = torch.Generator().manual_seed(0)
    out = infill(
        prior, window, 1, 3, lambda x: torch.multinomial(x.softmax(-1), 1, generator=gen)[:, 0]
    )
    assert out.shape == window.shape
    kept = infill(prior, window, 1, 3, lambda x: (x.argmax(-1) + 1) % 6, keep)
    assert torch.equal(kept[:, 1:3, keep[0]], window[:, 1:3, keep[0]])
    assert not torch.equal(kept[:, 1:3, ~keep[0]], window[:, 1:3, ~keep[0]])
    with pytest.raises(ValueError, match="fim_rate > 0"):
        infill(_prior(0.0), window, 1, 3, lambda x: x.argmax(-1))


def test_the_middle_sees_the_suffix_and_training_reorders_at_the_fim_rate() -> None:
    prior = _prior(0.5)
    columns = torch.randint(0, 6, (2, 6, prior.slots))
    order, segments = fim_order(6, 1, 3)
    changed = columns.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 6  # the suffix's last column
    mask = torch.ones(2, 6, dtype=torch.bool)
    with torch.no_grad():
        before = reordered_nll(prior, columns, order, segments)
        after = reordered_nll(prior, changed, order, segments)
        # the middle (columns 1, 2) comes after the suffix: it reads the change
        assert not torch.allclose(before[:, 1:3], after[:, 1:3])
        plain = prior.token_nll(columns)  # read in order, the middle cannot see the suffix
        assert torch.allclose(plain[:, 1:3], prior.token_nll(changed)[:, 1:3])
        prior.fim_rate = 1.0  # always reordered: never the in-order loss, same for a seed
        runs = [training_nll(prior, columns, mask, torch.Generator().manual_seed(3)) for _ in "ab"]
        assert torch.equal(runs[0], runs[1]) and not torch.allclose(runs[0], plain)
        prior.fim_rate = 0.0
        assert torch.equal(training_nll(prior, columns, mask), plain)


def test_infill_nll_is_what_the_cached_path_assigns_to_the_true_middle() -> None:
    prior = _prior(0.5)
    window = torch.randint(0, 6, (6, prior.slots))
    true_middle = window[2:5].flatten().tolist()  # in the order infill visits it
    total = []

    def forced(logits: torch.Tensor) -> torch.Tensor:
        code = true_middle[len(total)]
        total.append(-float(torch.log_softmax(logits, dim=-1)[0, code]))
        return torch.tensor([code])

    out = infill(prior, window[None], 2, 5, forced)
    assert torch.equal(out[0], window)
    assert infill_nll(prior, window, 2, 5) == pytest.approx(sum(total), rel=1e-4)
