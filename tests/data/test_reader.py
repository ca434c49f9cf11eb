"""The one audio reader: ``load_audio`` and block-wise ``AudioReader`` give the same samples and
the same one-line errors for every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvqvae.data.io import AudioReader, BadAudioFile, load_audio


@pytest.mark.parametrize("rate,channels", [(48000, 1), (44100, 2), (22050, 3)])
def test_blocks_concatenate_to_load_audio(tmp_path: Path, rate: int, channels: int) -> None:
    x = 0.3 * np.random.default_rng(rate).standard_normal((int(1.7 * rate), channels))
    path = tmp_path / "a.flac"
    sf.write(path, x.astype(np.float32), rate)
    whole = load_audio(path, 48000)
    reader = AudioReader(path, 48000, block_samples=7000)
    blocks = list(reader.blocks())
    # blocks of 7000 samples at the file's rate, resampled: bounded, and many of them
    assert max(b.shape[0] for b in blocks) <= 2 * 7000 * 48000 / rate < reader.num_samples
    assert reader.blocks_read == len(blocks) > 1
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    assert whole.shape[0] == reader.num_samples == round(x.shape[0] * 48000 / rate)
    assert np.isclose(np.abs(whole).max(), 0.95, atol=1e-6)  # peak normalised
    # independent reference for the mono mix at the file's own rate
    if rate == 48000:
        ref = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
        np.testing.assert_allclose(whole, ref * (0.95 / np.abs(ref).max()), atol=1e-6)


def _bad_files(tmp: Path) -> dict[str, Path]:
    tone = (0.5 * np.sin(np.arange(24000) / 7)).astype(np.float32)
    good = tmp / "good.wav"
    sf.write(good, tone, 48000)
    raw = good.read_bytes()
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = tmp / name
        files[name].write_bytes(data)

    put("empty.wav", b"")
    put("junk.wav", b"not audio" * 50)
    put("header.wav", raw[:30])
    put("truncated.wav", raw[: len(raw) // 2])
    put("fake.mp3", b"\x00\x01garbage" * 300)
    sf.write(tmp / "flac.flac", tone, 48000)
    put("cut.flac", (tmp / "flac.flac").read_bytes()[:3000])
    nan = tone.copy()
    nan[5] = np.nan
    sf.write(tmp / "nan.wav", nan, 48000, subtype="FLOAT")
    files["nan.wav"] = tmp / "nan.wav"
    sf.write(tmp / "silent.wav", np.zeros(4800, np.float32), 48000)
    files["silent.wav"] = tmp / "silent.wav"
    sf.write(tmp / "zero.wav", np.zeros(0, np.float32), 48000)
    files["zero.wav"] = tmp / "zero.wav"
    files["missing.wav"] = tmp / "missing.wav"
    return files


def test_bad_files_give_the_same_one_line_error_on_both_paths(tmp_path: Path) -> None:
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(BadAudioFile) as whole:
            load_audio(path, 48000)
        with pytest.raises(BadAudioFile) as streamed:
            list(AudioReader(path, 22050, block_samples=1000).blocks())
        msg = str(whole.value)
        assert whole.value.path == path and msg.startswith(f"{path}: "), name
        assert "\n" not in msg and msg.count(str(path)) == 1, msg
        assert whole.value.reason == streamed.value.reason, name
