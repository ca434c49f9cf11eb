"""The masked prior (``prior.model.order=masked``): both sides seen, padding not, training masks,
parallel-decoding fills, and a tiny one trained through the real ``train_prior`` app and used by
``edit``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rvqvae.prior.masked import MaskedPrior, decoding_stages, hide_for_training, masked_fill
from rvqvae.prior.model import build_prior
from rvqvae.prior.sampling import SamplingSettings, make_picker

from .conftest import PRIOR_ARGS


def _prior(**kwargs) -> MaskedPrior:
    torch.manual_seed(0)
    hp = dict(rows=2, levels=3, codebook_size=16, d_model=32, n_layers=2, n_heads=4)
    return build_prior("masked", **hp, context_columns=10, dropout=0.0, **kwargs).eval()


def _pick(seed: int):
    return make_picker(SamplingSettings(1.0, 0, 1.0), torch.Generator().manual_seed(seed))


def test_a_hidden_token_reads_both_sides_but_not_padding() -> None:
    prior = _prior()
    columns = torch.randint(0, 16, (1, 10, prior.slots))
    hidden = torch.zeros_like(columns, dtype=torch.bool)
    hidden[:, 4:6] = True
    base = prior.masked_logits(columns, hidden)[0, 4:6]
    for col in (1, 8):  # a change on the left and on the right both move the hole's logits
        other = columns.clone()
        other[0, col, 0] = (other[0, col, 0] + 1) % 16
        assert not torch.allclose(prior.masked_logits(other, hidden)[0, 4:6], base)
    # what is hidden is not read: its codes do not matter
    scrambled = columns.clone()
    scrambled[0, 4:6] = (scrambled[0, 4:6] + 5) % 16
    assert torch.allclose(prior.masked_logits(scrambled, hidden)[0, 4:6], base, atol=1e-6)
    # padded columns (valid false) are hidden from attention: their codes do not matter
    valid = torch.ones(1, 10, dtype=torch.bool)
    valid[0, 8:] = False
    padded = prior.masked_logits(columns, hidden, valid)[0, :8]
    changed = columns.clone()
    changed[0, 8:] = (changed[0, 8:] + 3) % 16
    assert torch.allclose(prior.masked_logits(changed, hidden, valid)[0, :8], padded, atol=1e-6)


def test_training_hides_only_the_files_columns_and_something_in_each() -> None:
    prior = _prior()
    mask = torch.zeros(64, 10, dtype=torch.bool)
    lengths = torch.randint(1, 11, (64,), generator=torch.Generator().manual_seed(0))
    for i, n in enumerate(lengths.tolist()):
        mask[i, :n] = True
    generator = torch.Generator().manual_seed(1)
    hidden = hide_for_training(mask, prior.slots, prior.slot_level, generator)
    assert not (hidden & ~mask[..., None]).any()  # never in padding
    assert hidden.flatten(1).any(dim=1).all()  # every window has something to predict
    whole_columns = (hidden.all(dim=2) | ~hidden.any(dim=2)).all(dim=1)
    assert 0 < int(whole_columns.sum()) < 64  # spans of whole columns and scattered tokens


def test_fill_changes_only_what_is_hidden_and_repeats_for_a_seed() -> None:
    prior = _prior()
    window = torch.randint(0, 16, (1, 10, prior.slots))
    hidden = torch.zeros(10, prior.slots, dtype=torch.bool)
    hidden[3:7] = prior.slot_level >= 1  # a variation: levels 1 and 2 of columns 3-6
    passes: list[int] = []
    one = masked_fill(prior, window, hidden, _pick(0), steps=5, progress=passes.append)
    assert torch.equal(one[0, ~hidden], window[0, ~hidden])
    assert passes == [1, 2, 3, 4, 5]
    assert torch.equal(one, masked_fill(prior, window, hidden, _pick(0), steps=5))
    others = [masked_fill(prior, window, hidden, _pick(s), steps=5) for s in (1, 2)]
    assert any(not torch.equal(o, one) for o in others)
    # generation: any length, in windows sliding over the context, a prompt kept
    prompt = window[:, :4]
    out = prior.generate(1, 23, _pick(3), prompt)
    assert out.shape == (1, 23, prior.slots) and torch.equal(out[:, :4], prompt)


def _revealed_per_pass(prior: MaskedPrior, window, hidden, **decoding) -> tuple:
    """The fill, and the (column, slot) tokens each pass revealed (from the hidden masks the
    passes gave the model)."""
    seen: list[torch.Tensor] = []
    real = prior.masked_logits

    def spy(columns, still, valid=None):
        seen.append(still[0].clone())
        return real(columns, still, valid)

    prior.masked_logits = spy
    try:
        out = masked_fill(prior, window, hidden, _pick(0), steps=5, **decoding)
    finally:
        del prior.masked_logits
    after = [*seen[1:], torch.zeros_like(hidden)]
    return out, [(b & ~a).nonzero() for b, a in zip(seen, after)]


def test_coarse_first_decodes_each_level_in_its_own_passes_lowest_first() -> None:
    prior = _prior()
    window = torch.randint(0, 16, (1, 10, prior.slots))
    hidden = torch.zeros(10, prior.slots, dtype=torch.bool)
    hidden[2:8] = prior.slot_level >= 1  # levels 1 and 2 of 6 columns
    level = prior.slot_level
    out, passes = _revealed_per_pass(prior, window, hidden, coarse_first=True)
    assert len(passes) == 5  # 5 passes shared by the two levels: 3 then 2
    levels = [sorted(set(level[p[:, 1]].tolist())) for p in passes]
    assert levels == [[1], [1], [1], [2], [2]]
    assert torch.equal(out[0, ~hidden], window[0, ~hidden])
    revealed = torch.zeros_like(hidden)
    for p in passes:
        assert not revealed[p[:, 0], p[:, 1]].any()  # each token revealed once
        revealed[p[:, 0], p[:, 1]] = True
    assert torch.equal(revealed, hidden)
    # the default (joint) order reveals both levels from the first pass on
    _, joint = _revealed_per_pass(prior, window, hidden)
    assert sorted(set(level[torch.cat(joint[:2])[:, 1]].tolist())) == [1, 2]
    # fewer passes than levels: one pass per level
    assert [n for _, n in decoding_stages(prior, hidden, 1, True)] == [1, 1]
    assert torch.equal(out, masked_fill(prior, window, hidden, _pick(0), 5, coarse_first=True))


def test_confidence_noise_changes_which_draws_are_kept_and_repeats_for_a_seed() -> None:
    prior = _prior()
    window = torch.randint(0, 16, (2, 10, prior.slots))
    hidden = torch.zeros(10, prior.slots, dtype=torch.bool)
    hidden[3:7] = True

    def fill(noise: float, seed: int = 0) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return masked_fill(prior, window, hidden, _pick(0), 5, noise=noise, generator=gen)

    plain = masked_fill(prior, window, hidden, _pick(0), 5)
    assert torch.equal(fill(0.0), plain)  # no noise: no draws from the generator, same fill
    noisy = fill(8.0)
    assert torch.equal(noisy, fill(8.0)) and torch.equal(noisy[:, ~hidden], window[:, ~hidden])
    # the same picker, other noise: the kept draws (so the later passes' context) differ
    assert any(not torch.equal(fill(8.0, s), plain) for s in (0, 1, 2))
    with pytest.raises(ValueError, match="needs a generator"):
        masked_fill(prior, window, hidden, _pick(0), 5, noise=1.0)
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="must be finite and >= 0"):
            masked_fill(prior, window, hidden, _pick(0), 5, noise=bad, generator=torch.Generator())


def test_fim_rate_belongs_to_the_flat_order() -> None:
    with pytest.raises(ValueError, match="fim_rate > 0 needs prior.model.order=flat"):
        _prior(fim_rate=0.5)


def test_train_prior_app_trains_a_masked_prior_that_edit_uses(
    vqvae_run: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real composed ``train_prior`` config with ``prior.model.order=masked``: it trains,
    validates (1 s blocks given both sides), samples, and its checkpoint fills an edit's range
    with ``method=masked`` and refuses the causal methods in one line."""
    from rvqvae.editing.ranges import ColumnRange, EditError
    from rvqvae.editing.regenerate import fim_window, regenerate
    from rvqvae.editing.sources import load_source
    from rvqvae.prior.checkpoint import load_prior
    from tests.helpers import train_here

    args = [a for a in PRIOR_ARGS if not a.startswith("prior.model.fim_rate")]
    args += [f"vqvae={vqvae_run['run']}", "prior.model.order=masked", "prior.max_epochs=2"]
    summary = train_here(
        args, tmp_path / "prior", cache_dir=vqvae_run["root"] / "cache", job="train_prior"
    )
    assert summary["status"] == "completed" and summary["prior"]["order"] == "masked"
    assert "a masked prior learns slowly: 2 epochs are fewer than" in caplog.text  # < MASKED_EPOCHS
    assert 0 < summary["val/bits_per_s"] < 2 * summary["raw_bits_per_s"]
    loaded = load_prior(tmp_path / "prior" / "checkpoints" / "best.ckpt")
    assert isinstance(loaded.prior, MaskedPrior)
    grid = load_source(loaded.codec, sorted(vqvae_run["audio"].rglob("*.wav"))[0]).grid
    settings, span = SamplingSettings(1.0, 0, 1.0), ColumnRange(3, 6, 0.17)
    done = regenerate(loaded.prior, grid, span, settings, seed=2, method="masked")
    assert torch.equal(done.grid[:, :3], grid[:, :3]) and torch.equal(done.grid[:, 6:], grid[:, 6:])
    again = regenerate(loaded.prior, grid, span, settings, seed=2, method="masked")
    assert torch.equal(done.grid, again.grid)
    # the best of 3 fills, each scored by the masked prior's likelihood of the 2 true columns on
    # each side given it (both sides hidden at once, predicted from the rest of the window)
    best = regenerate(loaded.prior, grid, span, settings, 2, 0, 3, 2, "best", "masked")
    assert best.fills.shape[0] == 3 and best.chosen == int(best.right_log_prob.argmax())
    assert torch.equal(best.grid[:, 3:6], best.fills[best.chosen])
    assert len({tuple(f.flatten().tolist()) for f in best.fills}) > 1  # the fills differ
    first, last = fim_window(loaded.prior.context_columns, span, grid.shape[1])
    for k in range(3):
        edited = grid.clone().long()
        edited[:, 3:6] = best.fills[k]
        window = loaded.prior.layout.to_columns(edited)[first:last][None]
        sides = torch.zeros(window.shape[1:], dtype=torch.bool)
        sides[3 - 2 - first : 3 - first] = sides[6 - first : 8 - first] = True
        logits = loaded.prior.masked_logits(window, sides[None])[0][sides]
        nll = torch.nn.functional.cross_entropy(logits, window[0][sides], reduction="sum")
        assert float(-best.right_log_prob[k]) == pytest.approx(float(nll), rel=1e-4)
    with pytest.raises(EditError, match="fills ranges with method=masked"):
        regenerate(loaded.prior, grid, span, settings, seed=2)
    # the edit app on its composed config: a variation by 4 passes, decodable, recorded
    from rvqvae.codec.format import load_codes
    from rvqvae.editing.app import run
    from tests.helpers import compose_app

    ckpt = tmp_path / "prior" / "checkpoints" / "best.ckpt"
    wav = sorted(vqvae_run["audio"].rglob("*.wav"))[0]
    overrides = [f"ckpt={ckpt}", "op=variation", f"a={wav}", "range=[0.5,1.5]", "levels=1"]
    overrides += ["method=masked", "steps=4", "write_audio=false", f"output={tmp_path / 'e'}"]
    (written,) = run(compose_app("edit", overrides), str(tmp_path))
    entry = load_codes(written["codes"]).generator["history"][-1]
    assert (entry["op"], entry["method"], entry["steps"]) == ("variation", "masked", 4)
    assert (entry["noise"], entry["coarse_first"]) == (0.0, False)
    # the decoding variants: recorded, and they change the fill
    variant = [*overrides, "noise=3.0", "coarse_first=true", f"output={tmp_path / 'v'}"]
    (other,) = run(compose_app("edit", variant), str(tmp_path))
    entry = load_codes(other["codes"]).generator["history"][-1]
    assert (entry["noise"], entry["coarse_first"]) == (3.0, True)
    a, b = (load_codes(w["codes"]).codes for w in (written, other))
    assert not np.array_equal(a, b)


def test_a_masked_prior_trains_the_sizes_epochs_times_the_factor(
    vqvae_run: dict[str, Path],
) -> None:
    """The composed ``train_prior`` config: ``prior.model.order=masked`` alone gives a masked
    prior MASKED_EPOCH_FACTOR times the epochs the same size gives a flat one (a masked token is
    learnt only while hidden); an explicit ``prior.max_epochs`` still wins; a bad order is one
    line naming the setting."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError

    from rvqvae.prior.config import MASKED_EPOCH_FACTOR
    from tests.helpers import compose_app

    def epochs(*overrides: str) -> int:
        args = [f"vqvae={vqvae_run['run']}", *overrides]
        return OmegaConf.create(compose_app("train_prior", args)).prior.max_epochs

    flat, masked = epochs(), epochs("prior.model.order=masked")
    assert MASKED_EPOCH_FACTOR > 1 and flat >= 1
    assert masked == MASKED_EPOCH_FACTOR * flat
    assert epochs("prior=small", "prior.model.order=masked") == MASKED_EPOCH_FACTOR * epochs(
        "prior=small"
    )
    assert epochs("prior.model.order=masked", "prior.max_epochs=7") == 7
    with pytest.raises(InterpolationResolutionError, match="prior.model.order must be one of"):
        epochs("prior.model.order=bogus")
