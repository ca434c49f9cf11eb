"""A failed decode leaves a previous decode in the same folder untouched (issue 12, fault 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rvqvae.codec import CodecError, decode_file, encode_file, save_codes
from rvqvae.codec import decoding as pipeline_mod


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture()
def good_decode(codec, trained, tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    """``(codes folder, output folder, bytes of the good outputs)`` of a decode of tone_004."""
    src = tmp_path / "codes"
    good = save_codes(encode_file(codec, trained["audio"] / "tone_004.wav"), src / "t.codes.npz")
    out = tmp_path / "out"
    paths = decode_file(codec, good, out, griffin_lim_iters=2)
    assert set(paths) == {"mel_npy", "wav", "mel_png"}
    before = _snapshot(out)
    assert set(before) == {"t.mel.npy", "t.wav", "t.mel.png"}
    assert all(len(b) > 1000 for b in before.values())
    return src, out, before


def test_failed_decode_of_bad_codes_keeps_previous_outputs(codec, good_decode, tmp_path) -> None:
    src, out, before = good_decode
    with np.load(src / "t.codes.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    # A well-formed file this model cannot decode: 128 codes per level (the model has 64).
    arrays["codebook_size"] = np.array(128, dtype=np.int64)
    model_config = json.loads(str(arrays["model_config"])) | {"codebook_size": 128}
    arrays["model_config"] = np.array(json.dumps(model_config))
    arrays["codes"] = arrays["codes"].copy()
    arrays["codes"][0, 0, 0] = 100
    bad = tmp_path / "bad" / "t.codes.npz"
    bad.parent.mkdir()
    np.savez(bad, **arrays)
    with pytest.raises(CodecError, match="codebook_size=128 but the checkpoint"):
        decode_file(codec, bad, out, griffin_lim_iters=2, allow_mismatch=True)
    assert _snapshot(out) == before  # byte-identical, and no temporary files beside them
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_interrupted_decode_keeps_previous_outputs(codec, good_decode, monkeypatch) -> None:
    """A decode stopped half-way (Ctrl-C, a crash) replaces nothing and leaves no temp files."""
    src, out, before = good_decode
    real = pipeline_mod.decode_mel_blocks

    def interrupted(*args, **kwargs):
        blocks = real(*args, **kwargs)
        yield next(blocks)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline_mod, "decode_mel_blocks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        decode_file(codec, src / "t.codes.npz", out, griffin_lim_iters=2)
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
