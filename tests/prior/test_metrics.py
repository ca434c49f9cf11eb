"""Offline prior measures: unigram baseline, Fréchet distance, copies, nearest windows, and the
validation windows that score every column once."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rvqvae.prior.data import ScoreWindows, TrainWindows, score_windows, trim_batch
from rvqvae.prior.metrics import (
    UnigramBaseline,
    frechet_distance,
    longest_copy,
    nearest_distances,
    windows,
)


def test_unigram_nll_matches_smoothed_counts_and_samples_follow_them() -> None:
    # one row, one level, codebook 4: code 0 three times, code 1 once
    grid = torch.tensor([0, 0, 0, 1]).reshape(1, 4, 1)
    baseline = UnigramBaseline([grid], codebook_size=4, alpha=0.5)
    probs = np.array([3.5, 1.5, 0.5, 0.5]) / 6.0
    expected = -(np.log(probs[0]) + np.log(probs[2]))
    nll = baseline.nll_per_level(torch.tensor([0, 2]).reshape(1, 2, 1))
    assert nll.shape == (1,) and float(nll[0]) == pytest.approx(expected)
    draws = baseline.sample(200, 50, torch.Generator().manual_seed(0))
    assert draws.shape == (200, 1, 50, 1)
    freq = torch.bincount(draws.flatten(), minlength=4).double() / draws.numel()
    assert np.allclose(freq.numpy(), probs, atol=0.01)


def test_frechet_distance_of_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 20000))  # [n_mels=3, frames]
    b = rng.standard_normal((3, 20000))
    assert frechet_distance([a], [b]) == pytest.approx(0.0, abs=0.01)
    shifted = b + np.array([[1.0], [2.0], [0.0]])
    assert frechet_distance([a], [shifted]) == pytest.approx(5.0, abs=0.05)
    scaled = 2.0 * b  # covariance 4 I: tr(I + 4I - 2 * 2I) = 3
    assert frechet_distance([a], [scaled]) == pytest.approx(3.0, abs=0.05)
    # several mels pool their frames
    assert frechet_distance([a[:, :10000], a[:, 10000:]], [b]) == pytest.approx(0.0, abs=0.01)


def test_longest_copy_finds_the_longest_exact_run() -> None:
    train = [torch.arange(20).reshape(10, 2), torch.full((5, 2), 7)]
    generated = torch.cat([torch.full((2, 2), 99), torch.arange(6, 14).reshape(4, 2)])
    assert longest_copy(generated, train) == 4  # columns [6,7] .. [12,13] in a row
    generated[3] = torch.tensor([8, 0])  # break the run: [6, 7] alone, then [10, 11] [12, 13]
    assert longest_copy(generated, train) == 2
    assert longest_copy(torch.full((3, 2), 99), train) == 0


def test_nearest_window_distances() -> None:
    cols = torch.tensor([[0, 0], [1, 1], [2, 2], [3, 3]])
    wins = windows(cols, 2)
    assert wins.tolist() == [[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]]
    queries = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 9], [9, 9, 9, 9]])
    assert nearest_distances(queries, wins).tolist() == [0.0, 0.25, 1.0]
    assert math.isnan(float(nearest_distances(queries, wins[:0])[0]))


@pytest.mark.parametrize("n_columns", [1, 7, 8, 9, 23, 50])
def test_score_windows_score_every_column_once(n_columns: int) -> None:
    context = 8
    file_columns = torch.arange(n_columns)[:, None].repeat(1, 3)  # column c holds code c
    dataset = ScoreWindows([file_columns], context)
    scored = []
    for window, mask in dataset.items:
        assert window.shape == (context, 3)
        scored += window[mask][:, 0].tolist()
    assert sorted(scored) == list(range(n_columns))
    for start, first in score_windows(n_columns, context):
        # later windows give every scored column at least 3/4 of a context of history
        assert first == start == 0 or context - context // 4 <= first - start < context


def test_train_windows_are_deterministic_per_epoch_and_change_between_epochs() -> None:
    files = [torch.full((n, 2), i) for i, n in enumerate((5, 9, 3, 12))]
    a = TrainWindows(files, 6, count=40, file_start_fraction=0.5, seed=3, mode="across_files")
    b = TrainWindows(files, 6, count=40, file_start_fraction=0.5, seed=3, mode="across_files")
    first = torch.stack([a[i][0] for i in range(len(a))])
    assert torch.equal(first, torch.stack([b[i][0] for i in range(len(b))]))
    assert first.shape == (40, 6, 2)
    a.set_epoch(1)
    assert not torch.equal(first, torch.stack([a[i][0] for i in range(len(a))]))
    # windows only hold real file columns laid end to end
    assert set(first.unique().tolist()) <= {0, 1, 2, 3}


def test_windows_within_files_hold_one_file_and_mask_the_padding() -> None:
    lengths = (5, 9, 3, 12)
    files = [torch.arange(n)[:, None].repeat(1, 2) + 100 * i for i, n in enumerate(lengths)]
    data = TrainWindows(files, 6, count=200, file_start_fraction=0.5, seed=1)
    starts_at_zero = 0
    for i in range(len(data)):
        window, mask = data[i]
        real = window[mask]
        owner = int(real[0, 0]) // 100
        assert bool((real // 100 == owner).all())  # one file, consecutive columns
        assert torch.equal(real[:, 0] % 100, torch.arange(len(real)) + int(real[0, 0]) % 100)
        assert len(real) == min(6, lengths[owner] - int(real[0, 0]) % 100)
        assert not mask[len(real) :].any() and mask[: len(real)].all()
        starts_at_zero += int(real[0, 0]) % 100 == 0
        if lengths[owner] <= 6:
            assert int(real[0, 0]) % 100 == 0  # a file that fits starts at its start
    assert 0.4 < starts_at_zero / len(data) < 0.95
    # a batch is cut after the last column any of its windows uses
    columns, mask = trim_batch([data[i] for i in range(len(data)) if not data[i][1][3:].any()])
    assert columns.shape[1] == mask.shape[1] == 3
