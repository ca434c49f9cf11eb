"""Whole-file code grids: block-wise == one pass, the v2 "grid" layout, v1 files, CLI round trips
and generated grids (``grid_codes_file``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rvqvae.codec import (
    CodecError,
    CodesFormatError,
    decode_file,
    decode_grid,
    decode_to_mel,
    encode_file,
    encode_grid,
    grid_codes_file,
    load_codes,
    save_codes,
)
from rvqvae.codec.format import FORMAT_VERSION
from rvqvae.codec.grid import decode_grid_blocks
from rvqvae.data.io import AudioReader
from rvqvae.data.mel import stream_mel
from tests.helpers import compose_app

from .conftest import codes_arrays, music, run_module

GENERATOR = {"prior": "runs/p/best.ckpt", "seed": 7, "temperature": 0.9, "top_k": 32}


def _true_mel(codec, path: Path) -> np.ndarray:
    reader = AudioReader(path, codec.settings.sample_rate, codec.normalize_peak)
    return np.concatenate(list(stream_mel(reader.blocks(), reader.num_samples, codec.settings)), 1)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """6.3 s of changing notes at 44.1 kHz with an odd length (resampled on read)."""
    path = tmp_path_factory.mktemp("grid") / "song.wav"
    sf.write(path, music(6.3, sr=44100, seed=5)[:-3], 44100)
    return path


@pytest.fixture(scope="module")
def grid_path(codec, song, tmp_path_factory) -> Path:
    codes = encode_file(codec, song, layout="grid")
    return save_codes(codes, tmp_path_factory.mktemp("gridfmt") / "song.codes.npz")


def test_blocks_equal_one_pass_with_trained_batchnorm(codec, song) -> None:
    bns = [m for m in codec.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.num_batches_tracked > 0 for m in bns)
    assert any(m.running_mean.abs().max() > 1e-3 for m in bns)  # not the default statistics
    assert any((m.running_var - 1).abs().max() > 1e-3 for m in bns)
    mel = torch.from_numpy(_true_mel(codec, song))
    n_frames = mel.shape[1]
    one = encode_grid(codec.model, mel)
    assert one.shape == (8, -(-n_frames // 16), 3) and one.dtype == torch.long
    rows, cols, q = one.shape

    def quantized(grid: torch.Tensor) -> torch.Tensor:
        return codec.model.codes_to_embeddings(grid.reshape(1, rows * cols, q), (rows, cols))

    for block_columns in (1, 3, 7):
        blocked = encode_grid(codec.model, mel, block_columns=block_columns)
        # The same codes, except where two codebook entries are duplicates (equal vectors: the
        # toy model has some) and float rounding picks the other one: same quantized vectors.
        torch.testing.assert_close(quantized(blocked), quantized(one), atol=1e-5, rtol=1e-5)
    ref = decode_grid(codec.model, one, n_frames, 128)
    assert ref.shape == mel.shape
    for block_columns in (1, 4, 9):
        blocks = list(decode_grid_blocks(codec.model, one, n_frames, 128, None, block_columns))
        assert len(blocks) > 1 and sum(b.shape[1] for b in blocks) == n_frames
        torch.testing.assert_close(torch.cat(blocks, dim=1), ref, atol=1e-5, rtol=1e-5)
    batched = encode_grid(codec.model, torch.stack([mel, mel.flip(1)]), block_columns=5)
    assert torch.equal(batched[0], one)
    pipeline = decode_to_mel(codec, encode_file(codec, song, layout="grid"))
    np.testing.assert_allclose(pipeline, ref.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seconds, sr", [(0.013, 48000), (1.0001, 48000), (2.3377, 22050)])
def test_decode_length_is_exact_for_odd_lengths(codec, tmp_path, seconds, sr) -> None:
    path = tmp_path / "odd.wav"
    y = music(seconds, sr=sr, seed=2)
    y = y[: len(y) | 1]  # odd sample count
    sf.write(path, y, sr)
    codes = encode_file(codec, path, layout="grid")
    frames = -(-codes.num_samples // 512)
    assert codes.layout == "grid" and codes.num_frames == frames
    assert codes.grid.shape == (8, -(-frames // 16), 3)
    assert decode_to_mel(codec, codes).shape == (128, frames)
    src = save_codes(codes, tmp_path / "odd.codes.npz")
    paths = decode_file(codec, src, tmp_path / "out", griffin_lim_iters=1, write_png=False)
    assert sf.info(paths["wav"]).frames == codes.num_samples
    assert np.load(paths["mel_npy"]).shape == (128, frames)


def test_grid_file_round_trip_and_levels(codec, grid_path, song) -> None:
    z = codes_arrays(grid_path)
    assert int(z["format_version"]) == FORMAT_VERSION == 2
    assert str(z["layout"]) == "grid" and json.loads(str(z["generator"])) == {}
    cols = -(-int(z["num_frames"]) // 16)
    assert z["codes"].shape == (1, 8 * cols, 3) and z["codes"].dtype == np.uint8
    assert z["spatial_shape"].tolist() == [[8, cols]] and z["chunk_starts"].tolist() == [0]
    assert int(z["chunk_frames"]) == int(z["chunk_hop_frames"]) == 16 * cols
    assert int(z["source_sample_rate"]) == 44100
    codes = load_codes(grid_path)
    assert codes.layout == "grid" and codes.generator == {} and codes.format_version == 2
    grid = torch.from_numpy(codes.grid.astype(np.int64))
    assert torch.equal(grid, encode_grid(codec.model, torch.from_numpy(_true_mel(codec, song))))
    full = decode_to_mel(codec, codes)
    for k in (1, 2):
        mel_k = decode_to_mel(codec, codes, levels=k)
        ref = decode_grid(codec.model, grid, codes.num_frames, 128, levels=k).numpy()
        np.testing.assert_allclose(mel_k, ref, atol=1e-6)
        assert np.abs(mel_k - full).mean() > 1e-4
    with pytest.raises(CodecError, match="levels must be in"):
        decode_to_mel(codec, codes, levels=4)


def test_version_1_file_loads_and_decodes_as_chunks(codec, trained, tmp_path) -> None:
    v2 = save_codes(encode_file(codec, trained["audio"] / "tone_003.wav"), tmp_path / "a.npz")
    z = codes_arrays(v2)
    del z["layout"], z["generator"]
    z["format_version"] = np.array(1, dtype=np.int64)
    v1 = tmp_path / "v1.codes.npz"
    np.savez(v1, **z)
    codes = load_codes(v1)
    assert codes.format_version == 1 and codes.layout == "chunks" and codes.generator == {}
    assert codes.num_chunks == 3  # 2 s: chunks at 0, 0.5 and 1 s
    np.testing.assert_array_equal(decode_to_mel(codec, codes), decode_to_mel(codec, load_codes(v2)))
    paths = decode_file(codec, v1, tmp_path / "out", griffin_lim_iters=1, write_png=False)
    assert sf.info(paths["wav"]).frames == codes.num_samples == 96000  # 2 s at 48 kHz
    resaved = codes_arrays(save_codes(codes, tmp_path / "again.codes.npz"))
    assert int(resaved["format_version"]) == 2 and str(resaved["layout"]) == "chunks"


def test_encode_default_grid_then_decode_exact_length(trained, tmp_path, capsys) -> None:
    """The encode and decode apps' own configs and ``run`` in this process (their CLIs:
    ``test_cli.py``): the default layout is the grid, and decode restores the exact length."""
    from rvqvae.decode import run as decode
    from rvqvae.encode import run as encode

    n = 61_237  # odd, at 44.1 kHz: resampled to 48 kHz on read
    sf.write(tmp_path / "x.wav", music(n / 44100 + 0.01, sr=44100, seed=9)[:n], 44100)
    ckpt = trained["ckpt"]
    encode(
        compose_app("encode", [f"ckpt={ckpt}", f"input={tmp_path / 'x.wav'}", "output=x"])
        | {"output": str(tmp_path / "codes")}
    )
    assert "whole-file code grids" in capsys.readouterr().out
    codes = load_codes(tmp_path / "codes" / "x.codes.npz")
    assert codes.layout == "grid" and codes.num_samples == round(n * 48000 / 44100)
    args = [f"ckpt={ckpt}", f"input={tmp_path / 'codes/x.codes.npz'}", "output=d"]
    decode(
        compose_app("decode", [*args, "griffin_lim_iters=2", "levels=2"])
        | {"output": str(tmp_path / "dec")}
    )
    info = sf.info(tmp_path / "dec" / "x.wav")
    assert info.samplerate == 48000 and info.frames == codes.num_samples
    assert np.load(tmp_path / "dec" / "x.mel.npy").shape == (128, codes.num_frames)
    assert (tmp_path / "dec" / "x.mel.png").is_file()
    args = [f"ckpt={ckpt}", f"input={tmp_path / 'x.wav'}", "output=c", "layout=chunks", "overlap=0"]
    encode(compose_app("encode", args) | {"output": str(tmp_path / "chunked")})
    chunked = load_codes(tmp_path / "chunked" / "x.codes.npz")
    assert chunked.layout == "chunks" and chunked.chunk_hop_frames == chunked.chunk_frames


def test_generated_grid_decodes_with_the_decode_app(codec, trained, tmp_path) -> None:
    rng = np.random.default_rng(0)
    cols = 13
    grid = rng.integers(0, codec.model.codebook_size, size=(8, cols, 3))
    num_samples = (cols - 1) * 16 * 512 + 1001  # a partial last column
    codes = grid_codes_file(codec, grid, num_samples, "sample_000", GENERATOR)
    path = save_codes(codes, tmp_path / "gen" / "sample_000.codes.npz")
    loaded = load_codes(path)
    assert loaded.generator == GENERATOR and loaded.layout == "grid"
    assert loaded.source_sample_rate == 48000 and loaded.source_num_samples == num_samples
    assert loaded.peak_gain == 1.0 and np.array_equal(loaded.grid, grid)
    from rvqvae.decode import run as decode

    args = [f"ckpt={trained['ckpt']}", f"input={path.parent}", f"output={tmp_path / 'dec'}"]
    decode(compose_app("decode", [*args, "griffin_lim_iters=2"]))
    assert sf.info(tmp_path / "dec" / "sample_000.wav").frames == num_samples
    mel = np.load(tmp_path / "dec" / "sample_000.mel.npy")
    ref = decode_grid(codec.model, torch.from_numpy(grid), loaded.num_frames, 128)
    np.testing.assert_allclose(mel, ref.numpy(), atol=1e-5)
    two_levels = grid_codes_file(codec, grid[..., :2], cols * 16 * 512, "s", {})
    assert decode_to_mel(codec, two_levels).shape == (128, cols * 16)


@pytest.mark.parametrize(
    "grid_shape, num_samples, generator, message",
    [
        ((4, 13, 3), 13 * 16 * 512, {}, "grid must be [rows=8"),
        ((8, 13, 4), 13 * 16 * 512, {}, "levels <= 3"),
        ((8, 13, 3), 13 * 16 * 512 + 1, {}, "does not fit a grid of 13 columns"),
        ((8, 13, 3), 12 * 16 * 512, {}, "use 98305 .. 106496"),
        ((8, 13, 3), 13 * 16 * 512, {"x": object()}, "not JSON-serialisable"),
        ((8, 13, 3), 13 * 16 * 512, [1], "generator must be a dict"),
    ],
)
def test_grid_codes_file_refuses_bad_input(codec, grid_shape, num_samples, generator, message):
    grid = np.zeros(grid_shape, np.int64)
    with pytest.raises(CodecError) as err:
        grid_codes_file(codec, grid, num_samples, "s", generator)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CodecError, match=r"integer codes in \[0, 63\]"):
        grid_codes_file(codec, np.full((8, 13, 3), 64), 13 * 16 * 512, "s", {})


def _drop_last_column(z: dict[str, np.ndarray]) -> None:
    rows, cols = z["spatial_shape"][0].tolist()
    grid = z["codes"][0].reshape(rows, cols, -1)[:, :-1]
    z["codes"] = np.ascontiguousarray(grid.reshape(1, rows * (cols - 1), -1))
    z["spatial_shape"] = np.array([[rows, cols - 1]])
    z["chunk_frames"] = z["chunk_hop_frames"] = np.array(16 * (cols - 1))
    z["chunk_hop_s"] = np.array(16 * (cols - 1) * 512 / 48000)


def _two_chunks(z: dict[str, np.ndarray]) -> None:
    z["codes"] = np.concatenate([z["codes"], z["codes"]])
    z["spatial_shape"] = np.concatenate([z["spatial_shape"]] * 2)
    z["chunk_starts"] = np.array([0, int(z["chunk_frames"])])
    z["num_chunks"] = np.array(2)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_drop_last_column, "must be [ceil(n_mels / 16), ceil(num_frames / 16)] = [8, "),
        (_two_chunks, "grid layout must have exactly one chunk, got num_chunks=2"),
        (lambda z: z.update(chunk_starts=np.array([3])), "chunk_starts must be [0]"),
        (lambda z: z.update(num_frames=z["num_frames"] + 16), "num_frames="),
        (lambda z: z.update(chunk_frames=z["chunk_frames"] - 1), "chunk_frames ("),
        (lambda z: z.update(layout=np.array("tiles")), "layout must be one of chunks, grid"),
        (lambda z: z.update(generator=np.array("[1]")), "'generator' must be a JSON object"),
        (lambda z: z.update(generator=np.array("{x")), "'generator' is not valid JSON"),
        (lambda z: z.pop("layout"), "missing key(s) layout"),
        (lambda z: z.update(peak_gain=np.array(0.0)), "peak_gain must be > 0"),
    ],
)
def test_bad_grid_files_give_one_line_errors(grid_path, tmp_path, mutate, message) -> None:
    z = codes_arrays(grid_path)
    mutate(z)
    bad = tmp_path / "bad.codes.npz"
    np.savez(bad, **z)
    with pytest.raises(CodesFormatError) as err:
        load_codes(bad)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_bad_grid_file_via_cli_and_unknown_layout(codec, trained, grid_path, tmp_path) -> None:
    z = codes_arrays(grid_path)
    _two_chunks(z)
    np.savez(tmp_path / "two.codes.npz", **z)
    args = [f"ckpt={trained['ckpt']}", "input=two.codes.npz", "output=o"]
    proc = run_module("rvqvae.decode", args, tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in text, text
    errors = [line for line in text.splitlines() if "exactly one chunk" in line]
    assert len(errors) == 1, text
    with pytest.raises(CodecError, match="layout must be one of chunks, grid, got 'tiles'"):
        encode_file(codec, trained["audio"] / "tone_000.wav", layout="tiles")
