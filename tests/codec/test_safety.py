"""Checkpoint safety and model identity: malicious pickles, mismatched checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from rvqvae.codec import Codec, CodecMismatchError, decode_file, encode_file, save_codes
from rvqvae.codec.model import weights_sha256
from rvqvae.training.checkpoint import CheckpointError

MARKER_NAME = "pwned.txt"


class _Evil:
    """Unpickling this runs ``open(marker, 'w')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_checkpoint_is_refused_not_executed(trained, tmp_path) -> None:
    marker = tmp_path / MARKER_NAME
    ckpt = torch.load(trained["ckpt"], weights_only=True)
    ckpt["rvqvae"]["payload"] = _Evil(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    assert not marker.exists()
    with pytest.raises(CheckpointError) as err:
        Codec.from_checkpoint(evil)
    assert "safely (weights_only)" in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()


@pytest.fixture(scope="module")
def codes_path(codec, trained, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "t.codes.npz"
    return save_codes(encode_file(codec, trained["audio"] / "tone_000.wav"), out)


def _variant(trained, tmp_path: Path, name: str, edit) -> Path:
    ckpt = torch.load(trained["ckpt"], weights_only=True)
    edit(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def test_weights_hash_is_canonical(codec, trained) -> None:
    again = Codec.from_checkpoint(trained["ckpt"])
    assert again.weights_sha256 == codec.weights_sha256 == weights_sha256(codec.model)


def test_perturbed_weights_are_refused(trained, codes_path, tmp_path, caplog) -> None:
    def perturb(ckpt):
        w = ckpt["state_dict"]["model.decoder.proj.weight"]
        w.add_(1e-3)

    other = Codec.from_checkpoint(_variant(trained, tmp_path, "other.ckpt", perturb))
    with pytest.raises(CodecMismatchError) as err:
        decode_file(other, codes_path, tmp_path / "out", write_audio=False)
    msg = str(err.value)
    assert "weights sha256" in msg and "allow_mismatch=true" in msg and "\n" not in msg
    with caplog.at_level(logging.WARNING, logger="rvqvae.codec.model"):
        out = decode_file(
            other, codes_path, tmp_path / "out", allow_mismatch=True, write_audio=False
        )
    assert out["mel_npy"].is_file()
    assert any("allow_mismatch" in r.message for r in caplog.records)


def test_changed_config_is_refused(trained, codes_path, tmp_path) -> None:
    def edit(ckpt):
        ckpt["rvqvae"]["config"]["model"]["commitment_weight"] = 0.5

    other = Codec.from_checkpoint(_variant(trained, tmp_path, "cfg.ckpt", edit))
    with pytest.raises(CodecMismatchError, match="model config differs in commitment_weight"):
        decode_file(other, codes_path, tmp_path / "out", write_audio=False)
