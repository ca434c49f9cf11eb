"""The one synthesis entry point: auto / griffinlim / PATH, block-wise == whole-file, refusals,
and ``decode`` / ``evaluate`` writing audio through it."""

from __future__ import annotations

import dataclasses
import pickle
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from rvqvae.data.mel import MelSettings
from rvqvae.safeload import CheckpointError
from rvqvae.vocoder.checkpoint import INSTALLED, load_vocoder
from rvqvae.vocoder.synthesize import StreamingVocoder, build_synthesizer


def test_auto_finds_the_runs_vocoder_else_griffin_lim(tiny_vocoder, tiny_run) -> None:
    settings = load_vocoder(tiny_vocoder.vqvae / INSTALLED).settings
    auto = build_synthesizer("auto", settings, tiny_vocoder.vqvae / "checkpoints" / "best.ckpt")
    assert auto.kind == "vocoder" and str(tiny_vocoder.vqvae / INSTALLED) in auto.describe()
    bare = build_synthesizer("auto", settings, tiny_run.ckpt)  # the original run has none
    assert bare.kind == "griffinlim" and "no vocoder trained" in bare.describe()
    assert build_synthesizer("griffinlim", settings, tiny_vocoder.vqvae).kind == "griffinlim"
    path = build_synthesizer(str(tiny_vocoder.vqvae / INSTALLED), settings)
    assert path.kind == "vocoder"


def test_block_wise_equals_whole_file_with_exact_length(tiny_vocoder) -> None:
    loaded = load_vocoder(tiny_vocoder.vqvae / INSTALLED)
    g = loaded.generator
    mel = torch.rand(loaded.settings.n_mels, 300) * 4
    with torch.no_grad():
        whole = g(mel[None])[0].numpy()
    length = 300 * g.hop_length - 77
    stream = StreamingVocoder(loaded, 300, length, block_frames=23)
    parts = []
    for i in range(0, 300, 41):  # mel arrives in pieces unrelated to the blocks
        parts += stream.push(mel[:, i : i + 41].numpy())
    parts += stream.finish()
    blockwise = np.concatenate(parts)
    assert blockwise.shape == (length,)
    assert np.abs(whole).max() > 0
    np.testing.assert_allclose(blockwise, whole[:length], atol=1e-5 * np.abs(whole).max() + 1e-7)


def test_vocoder_for_other_mel_settings_is_refused(tiny_vocoder) -> None:
    settings = load_vocoder(tiny_vocoder.vqvae / INSTALLED).settings
    other = dataclasses.replace(settings, hop_length=settings.hop_length // 2)
    with pytest.raises(CheckpointError, match="other mel settings.*hop_length") as err:
        build_synthesizer(str(tiny_vocoder.vqvae / INSTALLED), other)
    assert "\n" not in str(err.value)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_malicious_or_foreign_checkpoints_are_refused_in_one_line(tiny_vocoder, tmp_path) -> None:
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"state_dict": {}, "x": _Evil()}))
    with pytest.raises(CheckpointError, match="safely") as err:
        build_synthesizer(str(evil), MelSettings())
    assert "\n" not in str(err.value)
    vqvae = tiny_vocoder.vqvae / "checkpoints" / "best.ckpt"
    with pytest.raises(CheckpointError, match="not a vocoder checkpoint"):
        build_synthesizer(str(vqvae), MelSettings())


def test_decode_writes_audio_through_the_runs_vocoder(tiny_vocoder, tiny_run, tmp_path) -> None:
    from rvqvae import decode
    from rvqvae.codec import Codec, encode_file
    from rvqvae.codec.format import save_codes

    ckpt = tiny_vocoder.vqvae / "checkpoints" / "best.ckpt"
    codec = Codec.from_checkpoint(ckpt)
    wav = sorted(tiny_run.audio.glob("*.wav"))[0]
    codes = save_codes(encode_file(codec, wav), tmp_path / "a.codes.npz")
    base = {
        "ckpt": str(ckpt),
        "input": str(codes),
        "levels": None,
        "griffin_lim_iters": 2,
        "allow_mismatch": False,
        "batch_size": 4,
        "griffin_lim_block_s": 0.5,  # several blocks
        "griffin_lim_overlap_s": 0.1,
        "write_png": False,
        "write_audio": True,
        "restore_level": False,
        "wav_subtype": "FLOAT",
    }
    out = {}
    for spec in ("auto", "griffinlim"):
        decode.run({**base, "vocoder": spec, "output": str(tmp_path / spec)})
        out[spec], sr = sf.read(tmp_path / spec / "a.wav", dtype="float32")
    n = sf.info(wav).frames * codec.settings.sample_rate // sf.info(wav).samplerate
    assert abs(out["auto"].shape[0] - n) <= 1 and out["auto"].shape == out["griffinlim"].shape
    assert not np.allclose(out["auto"], out["griffinlim"])  # not Griffin-Lim's audio
    # the whole-file synthesis of the same decoded mel, for comparison
    synth = build_synthesizer("auto", codec.settings, ckpt)
    mel = np.load(tmp_path / "auto" / "a.mel.npy")
    np.testing.assert_allclose(out["auto"], synth(mel, out["auto"].shape[0]), atol=1e-4)
    shutil.rmtree(tmp_path / "griffinlim")
