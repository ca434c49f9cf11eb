"""Edits without a prior on the session's tiny VQ-VAE: ranges, sources, swap, blend, splice,
seams and the written result read back by ``rvqvae.decode``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rvqvae.codec.cli import one_line
from rvqvae.codec.format import load_codes, save_codes
from rvqvae.codec.model import CodecMismatchError
from rvqvae.editing.ops import Segment, blend, splice, swap_levels
from rvqvae.editing.output import decode_mel, write_edit
from rvqvae.editing.ranges import ColumnRange, EditError, column_seconds, snap_range
from rvqvae.editing.seams import boundary_jump, natural_jumps, seam_figures
from rvqvae.editing.sources import load_source


@pytest.fixture(scope="module")
def pair(codec, tones) -> tuple:
    return load_source(codec, tones[0]), load_source(codec, tones[3])


def test_ranges_snap_to_columns_and_refuse_what_is_outside() -> None:
    col = 0.2
    span = snap_range([0.31, 0.89], 10, col)
    assert (span.start, span.end) == (2, 4)  # 1.55 -> 2, 4.45 -> 4
    assert span.seconds == pytest.approx((0.4, 0.8))
    assert (snap_range([None, 1.0], 10, col).start, snap_range([1.0, None], 10, col).end) == (0, 10)
    with pytest.raises(EditError, match=r"range=\[1.0, 2.5\] is outside x.wav \(0-2.000 s"):
        snap_range([1.0, 2.5], 10, col, where="x.wav")
    with pytest.raises(EditError, match="no whole column"):
        snap_range([0.31, 0.35], 10, col)


def test_audio_and_its_codes_file_give_the_same_grid(codec, tones, tmp_path) -> None:
    from_audio = load_source(codec, tones[0])
    paths = write_edit(codec, from_audio.grid, from_audio.num_samples, tmp_path, "x", [], None)
    again = load_source(codec, paths["codes"])
    assert torch.equal(again.grid, from_audio.grid) and again.num_samples == from_audio.num_samples
    assert again.history == [] and from_audio.history == [{"encoded": tones[0].name}]


def test_codes_of_another_vqvae_are_refused_in_one_line(codec, tones, tmp_path) -> None:
    src = load_source(codec, tones[0])
    paths = write_edit(codec, src.grid, src.num_samples, tmp_path, "x", [], None)
    codes = load_codes(paths["codes"])
    codes.weights_sha256 = "0" * 64
    save_codes(codes, tmp_path / "other.codes.npz")
    with pytest.raises(CodecMismatchError) as err:
        load_source(codec, tmp_path / "other.codes.npz")
    line = one_line(err.value)
    assert "\n" not in line and "different model" in line and "000000000000" in line


def test_swap_levels_takes_structure_from_one_and_detail_from_the_other(pair) -> None:
    a, b = pair
    out = swap_levels(a.grid, b.grid, 1)
    cols = min(a.columns, b.columns)
    assert torch.equal(out[..., :1], a.grid[:, :cols, :1])
    assert torch.equal(out[..., 1:], b.grid[:, :cols, 1:])
    assert torch.equal(swap_levels(a.grid, a.grid, 1), a.grid)
    with pytest.raises(EditError, match="levels_from_a must be an integer in"):
        swap_levels(a.grid, b.grid, a.levels)


def test_blend_requantizes_the_mixed_embeddings_through_the_rvq(codec, pair) -> None:
    a, b = pair
    model = codec.model
    span = ColumnRange(2, 8, 0.0)
    half = blend(model, a.grid, b.grid, 0.5, span)
    assert torch.equal(half[:, :2], a.grid[:, :2]) and torch.equal(half[:, 8:], a.grid[:, 8:])
    assert torch.equal(blend(model, a.grid, b.grid, 0.0, span), a.grid)

    def summed(grid: torch.Tensor) -> torch.Tensor:
        rows, cols, q = grid.shape
        return model.codes_to_embeddings(grid.reshape(1, rows * cols, q), (rows, cols))

    target = 0.5 * summed(a.grid[:, 2:8]) + 0.5 * summed(b.grid[:, 2:8])
    err_blend = (summed(half[:, 2:8]) - target).norm()
    # the re-quantized mix is nearer to the mixed vectors than either input's codes
    assert err_blend < (summed(a.grid[:, 2:8]) - target).norm()
    assert err_blend < (summed(b.grid[:, 2:8]) - target).norm()
    same = blend(model, a.grid, a.grid, [0.3, 0.7][: a.levels] + [0.5] * (a.levels - 2))
    assert torch.equal(same, blend(model, a.grid, a.grid, 0.5))  # mixing a grid with itself
    with pytest.raises(EditError, match="weight must be a number in"):
        blend(model, a.grid, b.grid, 1.5)


def test_splice_cuts_loops_and_concatenates_with_seams(codec, pair) -> None:
    a, b = pair
    col = column_seconds(codec.settings)
    parts = [
        Segment("a", ColumnRange(0, 3, col)),
        Segment("a", ColumnRange(3, 5, col)),  # follows the last part: no seam
        Segment("b", ColumnRange(4, 6, col), loops=2),
    ]
    grid, seams = splice({"a": a.grid, "b": b.grid}, parts)
    assert grid.shape[1] == 3 + 2 + 4 and seams == [5, 7]
    assert torch.equal(grid[:, :5], a.grid[:, :5])
    assert torch.equal(grid[:, 5:7], b.grid[:, 4:6]) and torch.equal(grid[:, 7:9], b.grid[:, 4:6])


def test_seams_are_measured_against_natural_boundaries(codec, pair) -> None:
    a, b = pair
    clean = decode_mel(codec, a.grid, a.num_samples)
    natural = natural_jumps([clean])
    assert len(natural) == clean.shape[1] // 16 - 1 and np.all(natural >= 0)
    loud = torch.cat([a.grid[:, :4], b.grid[:, 4:]], dim=1)
    mel = decode_mel(codec, loud, a.num_samples)
    figures = seam_figures([boundary_jump(mel, 4)], natural)
    assert 0.0 <= figures["seam_percentile"] <= 1.0 and figures["seams"] == 1
    assert figures["natural_jump_median"] == pytest.approx(float(np.median(natural)))


def test_written_edit_decodes_with_rvqvae_decode(codec, tiny_run, pair, tmp_path) -> None:
    from rvqvae.decode import run as decode

    a, _ = pair
    history = [{"op": "splice", "parts": 2}]
    paths = write_edit(codec, a.grid, a.num_samples, tmp_path, "e", history, None, [0.5])
    assert load_codes(paths["codes"]).generator == {"history": history}
    assert Path(paths["png"]).stat().st_size > 1000
    cfg = {
        "ckpt": str(tiny_run.ckpt),
        "input": str(paths["codes"]),
        "output": str(tmp_path / "dec"),
        "levels": None,
        "griffin_lim_iters": 2,
        "allow_mismatch": False,
        "batch_size": 4,
        "griffin_lim_block_s": 10.0,
        "griffin_lim_overlap_s": 0.5,
        "write_png": False,
        "write_audio": False,
        "restore_level": False,
        "wav_subtype": "PCM_16",
        "vocoder": "griffinlim",
    }
    (result,) = decode(cfg)
    mel = np.load(result["mel_npy"])
    assert np.allclose(mel, decode_mel(codec, a.grid, a.num_samples), atol=1e-4)
