"""The codes file: numpy-only loading, dtypes, and clear errors for bad files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from rvqvae.codec import CodesFormatError, encode_file, load_codes, save_codes
from rvqvae.codec.format import FORMAT_VERSION, REQUIRED_KEYS, codes_dtype

from .conftest import codes_arrays


@pytest.fixture(scope="module")
def codes_path(codec, trained, tmp_path_factory) -> Path:
    codes = encode_file(codec, trained["audio"] / "tone_002.wav")
    return save_codes(codes, tmp_path_factory.mktemp("fmt") / "tone_002.codes.npz")


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def test_codes_dtype_is_smallest_unsigned() -> None:
    assert codes_dtype(2) == np.uint8 and codes_dtype(256) == np.uint8
    assert codes_dtype(257) == np.uint16 and codes_dtype(65536) == np.uint16
    assert codes_dtype(65537) == np.uint32


def test_codes_file_loads_with_numpy_alone(codes_path: Path, codec) -> None:
    z = codes_arrays(codes_path)  # allow_pickle=False: no object arrays anywhere
    assert set(REQUIRED_KEYS) <= set(z)
    assert all(v.dtype != object for v in z.values())
    assert int(z["format_version"]) == FORMAT_VERSION
    n = int(z["num_chunks"])
    assert z["codes"].dtype == np.uint8  # 64 codes
    # 2 s at 16 kHz -> 96000 samples at 48 kHz, 188 frames: 1 s chunks every 47 frames
    assert z["codes"].shape == (n, 48, 3) and n == 3
    assert z["spatial_shape"].tolist() == [[8, 6]] * n
    assert z["chunk_starts"].tolist() == [0, 47, 94] and int(z["chunk_hop_frames"]) == 47
    assert int(z["num_samples"]) == 96000
    assert int(z["source_sample_rate"]) == 16000 and int(z["source_num_samples"]) == 32000
    assert int(z["sample_rate"]) == 48000 and int(z["n_mels"]) == 128
    assert int(z["hop_length"]) == 512 and int(z["n_fft"]) == 2048
    assert float(z["fmax"]) == 24000.0 and float(z["chunk_duration_s"]) == 1.0
    assert json.loads(str(z["model_config"]))["codebook_size"] == 64
    assert json.loads(str(z["run_config"]))["dataset"]["n_mels"] == 128
    assert str(z["weights_sha256"]) == codec.weights_sha256 and len(codec.weights_sha256) == 64
    loaded = load_codes(codes_path)
    assert loaded.num_chunks == n and loaded.settings == codec.settings


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda z: z.update(codes=z["codes"].astype(np.float32)), "must be integers"),
        (lambda z: z["codes"].__setitem__((0, 0, 0), 64), "must be in [0, 63]"),
        (lambda z: z.update(codes=z["codes"].astype(np.int16) - 64), "must be in [0, 63]"),
        (lambda z: z.pop("weights_sha256"), "missing key(s) weights_sha256"),
        (lambda z: z.update(format_version=np.array(99)), "format_version 99"),
        (lambda z: z.update(spatial_shape=z["spatial_shape"] * 2), "spatial_shape"),
        (lambda z: z.update(num_chunks=np.array(5)), "num_chunks=5"),
        (lambda z: z.update(codes=z["codes"][0]), "must be [chunks, H*W, levels]"),
        (lambda z: z.update(model_config=np.array("{not json")), "not valid JSON"),
        (lambda z: z.update(sample_rate=np.array(48000.5)), "'sample_rate' must be a scalar"),
    ],
)
def test_invalid_codes_files_are_refused(codes_path, tmp_path, mutate, message) -> None:
    z = codes_arrays(codes_path)
    mutate(z)
    bad = _write(tmp_path / "bad.codes.npz", z)
    with pytest.raises(CodesFormatError) as err:
        load_codes(bad)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_corrupt_truncated_and_pickled_files(codes_path, tmp_path) -> None:
    data = codes_path.read_bytes()
    corrupt = tmp_path / "corrupt.codes.npz"
    corrupt.write_bytes(data[:100] + b"\x00garbage" * 50 + data[600:])
    truncated = tmp_path / "truncated.codes.npz"
    truncated.write_bytes(data[: len(data) // 2])
    noise = tmp_path / "noise.codes.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    for path in (corrupt, truncated, noise, tmp_path / "missing.codes.npz"):
        with pytest.raises(CodesFormatError) as err:
            load_codes(path)
        assert "\n" not in str(err.value)
    z = codes_arrays(codes_path)
    z["model_config"] = np.array([{"evil": 1}], dtype=object)  # needs pickle to load
    buf = io.BytesIO()
    np.savez(buf, **z)
    pickled = tmp_path / "pickled.codes.npz"
    pickled.write_bytes(buf.getvalue())
    with pytest.raises(CodesFormatError, match="not a readable codes file"):
        load_codes(pickled)
