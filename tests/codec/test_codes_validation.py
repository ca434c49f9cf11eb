"""Every codes-file field checked against the others and against the model (issue 12, fault 2).

In-process through :func:`load_codes` / :func:`decode_file`, and once through the real
``rvqvae.decode`` CLI for the one-line message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvqvae.codec import (
    CodecError,
    CodesFormatError,
    decode_file,
    encode_file,
    load_codes,
    save_codes,
)
from tests.helpers import compose_app

from .conftest import codes_arrays, music, run_module

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def written(codec, tmp_path_factory) -> dict[str, Path]:
    """Codes files of 3 s of 16 kHz audio written by the current code: ``{layout: path}``."""
    root = tmp_path_factory.mktemp("validation")
    sf.write(root / "three.wav", music(3.0, sr=16000, seed=5), 16000)
    return {
        layout: save_codes(
            encode_file(codec, root / "three.wav", layout=layout), root / f"{layout}.codes.npz"
        )
        for layout in ("grid", "chunks")
    }


def _refused(path: Path, mutate: Callable[[Arrays], object], tmp_path: Path) -> str:
    z = codes_arrays(path)
    mutate(z)
    bad = tmp_path / "edited.codes.npz"
    np.savez(bad, **z)
    with pytest.raises(CodesFormatError) as err:
        load_codes(bad)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "rvqvae.encode" in msg, msg
    return msg


def _set(**fields: object) -> Callable[[Arrays], None]:
    return lambda z: z.update({k: np.asarray(v) for k, v in fields.items()})


def _frames(n: int) -> int:
    return -(-n // 512)


def _cut(z: Arrays) -> None:  # the probe's edit: 40 positions, spatial_shape [5, 8]
    z["codes"] = z["codes"][:, :40]
    z["spatial_shape"] = np.tile(np.array([[5, 8]]), (z["codes"].shape[0], 1))


# (layout, edit, the words the one line must hold)
CASES = [
    ("grid", _set(num_samples=200_000_000), "num_samples=200000000"),
    ("chunks", _set(num_samples=200_000_000), "num_samples=200000000"),
    ("grid", _set(num_samples=10**10, num_frames=_frames(10**10)), "num_samples=10000000000"),
    (
        "grid",
        _set(
            num_samples=200_000_000,
            num_frames=_frames(200_000_000),
            source_num_samples=200_000_000 // 3,
        ),
        "spatial_shape",
    ),
    (
        "chunks",
        _set(
            num_samples=200_000_000,
            num_frames=_frames(200_000_000),
            source_num_samples=200_000_000 // 3,
        ),
        "num_frames=390625",
    ),
    ("grid", _cut, "spatial_shape"),
    ("chunks", _cut, "spatial_shape"),
    ("grid", _set(num_frames=100), "num_frames=100"),
    ("grid", _set(source_sample_rate=0), "source_sample_rate"),
    ("chunks", _set(chunk_frames=90), "chunk_frames=90"),
    ("chunks", _set(chunk_duration_s=-1.0), "chunk_duration_s"),
    ("grid", _set(normalize_peak=False), "peak_gain"),
    ("grid", _set(peak_gain=float("nan")), "peak_gain"),
    ("grid", _set(num_quantizers=2), "num_quantizers=2"),
    ("grid", _set(codebook_size=128), "codebook_size=128"),
    ("grid", lambda z: z["codes"].__setitem__((0, 3, 1), 64), "must be in [0, 63]"),
    ("grid", lambda z: z.update(codes=z["codes"].astype(np.float64)), "must be integers"),
    ("grid", _set(sample_rate=44100), "num_samples"),
    ("grid", _set(n_fft=256), "mel settings"),
    ("grid", _set(fmax=30000.0), "mel settings"),
    ("grid", _set(format_version=3), "format_version 3"),
    ("grid", lambda z: z.pop("hop_length"), "missing key(s) hop_length"),
    ("grid", _set(layout="rows"), "layout"),
    ("grid", _set(weights_sha256="not a hash"), "weights_sha256"),
    ("grid", _set(model_config="[1, 2]"), "model_config"),
    ("grid", _set(generator="{oops"), "generator"),
]


@pytest.mark.parametrize("layout, mutate, words", CASES)
def test_inconsistent_field_is_refused_in_one_line(written, tmp_path, layout, mutate, words):
    assert words in _refused(written[layout], mutate, tmp_path)


def test_files_as_written_load_in_both_versions(written, tmp_path) -> None:
    """The current writer's files load; so does the same file in format 1 (no layout key)."""
    for layout, path in written.items():
        codes = load_codes(path)
        assert codes.layout == layout and codes.format_version == 2
        assert codes.num_samples == 144000 and codes.path == str(path)
    z = codes_arrays(written["chunks"])
    del z["layout"], z["generator"]
    z["format_version"] = np.array(1, dtype=np.int64)
    np.savez(tmp_path / "v1.codes.npz", **z)
    v1 = load_codes(tmp_path / "v1.codes.npz")
    assert v1.format_version == 1 and v1.layout == "chunks" and v1.num_samples == 144000


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"num_samples = 144000\n", "not an .npz (zip) archive"),
        (b"\x80\x04\x95pickle", "not an .npz (zip) archive"),
        (None, "a single .npy array"),
    ],
)
def test_file_that_is_not_an_npz_says_so(tmp_path, content, words) -> None:
    path = tmp_path / "x.codes.npz"
    if content is None:
        np.save(tmp_path / "x.npy", np.zeros((1, 48, 3), np.uint8))
        (tmp_path / "x.npy").rename(path)
    else:
        path.write_bytes(content)
    with pytest.raises(CodesFormatError) as err:
        load_codes(path)
    msg = str(err.value)
    assert words in msg and str(path) in msg and "\n" not in msg and "pickled" not in msg


def test_codes_that_do_not_fit_the_model_name_the_field(codec, written, tmp_path) -> None:
    """A valid file made for another model: refused before any output, naming the field."""
    z = codes_arrays(written["grid"])
    z["num_quantizers"] = np.array(4)
    model_config = json.loads(str(z["model_config"])) | {"num_quantizers": 4}
    z["model_config"] = np.array(json.dumps(model_config))
    z["codes"] = np.concatenate([z["codes"], z["codes"][:, :, :1]], axis=2)
    np.savez(tmp_path / "q4.codes.npz", **z)
    out = tmp_path / "out"
    with pytest.raises(CodecError, match="codes have 4 levels") as err:
        decode_file(codec, tmp_path / "q4.codes.npz", out, allow_mismatch=True)
    assert "q4.codes.npz" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CodecError, match=r"levels must be in \[1, 3\]"):
        decode_file(codec, written["grid"], out, levels=5)
    assert not out.exists() or not list(out.iterdir())


def test_decode_cli_refuses_non_npz_and_edited_length_in_one_line(trained, written, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.codes.npz").write_text("this is a text file\n")
    z = codes_arrays(written["grid"])
    z["num_samples"] = np.array(200_000_000)
    np.savez(folder / "b.codes.npz", **z)
    # through the CLI: exit code 1, one line, no traceback
    args = [f"ckpt={trained['ckpt']}", f"input={folder / 'a'}.codes.npz", "output=o"]
    proc = run_module("rvqvae.decode", args, tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    words = "not an .npz (zip) archive"
    errors = [line for line in text.splitlines() if "ERROR" in line or words in line]
    assert len(errors) == 1 and words in errors[0] and "Traceback" not in text, text
    # the edited length, in this process through the composed decode config: one line
    from rvqvae.decode import run as decode

    overrides = [f"ckpt={trained['ckpt']}", f"input={folder / 'b'}.codes.npz", "output=o"]
    cfg = compose_app("decode", overrides)
    with pytest.raises(CodecError, match="num_samples=200000000") as err:
        decode({**cfg, "output": str(tmp_path / "o")})
    assert "\n" not in str(err.value).strip()
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
