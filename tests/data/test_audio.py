"""Discovery, decoding edge cases, mel framing/accuracy and mel -> audio inversion."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rvqvae.data.chunks import file_to_chunks
from rvqvae.data.discovery import (
    AUDIO_EXTENSIONS,
    DatasetError,
    count_audio_files,
    discover_audio_files,
)
from rvqvae.data.io import BadAudioFile, load_audio
from rvqvae.data.mel import (
    MelSettings,
    audio_to_mel,
    audio_to_mel_torch,
    frames_for,
    mel_filterbank,
)
from rvqvae.vocoder.griffinlim import chunks_to_audio, mel_to_audio

# --------------------------------------------------------------------------------- discovery


def test_discover_recursive_sorted_filters_hidden_and_non_audio(tmp_path: Path, write_wav) -> None:
    for rel in ["b.wav", "a/c.FLAC", "a/b/d.ogg", "z.mp3", ".hidden.wav", ".git/x.wav"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")  # discovery must not decode
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "image.png").write_bytes(b"png")
    files = discover_audio_files(tmp_path)
    rel = [f.relative_to(tmp_path).as_posix() for f in files]
    assert rel == ["a/b/d.ogg", "a/c.FLAC", "b.wav", "z.mp3"]
    assert count_audio_files(tmp_path) == 4
    assert {"wav", "flac", "ogg", "mp3", "aiff", "aif"} <= AUDIO_EXTENSIONS


def test_discover_is_cheap_and_torch_free() -> None:
    code = (
        "import sys, rvqvae.data, rvqvae.data.discovery, rvqvae.data.io, rvqvae.data.mel; "
        "print('torch' in sys.modules, 'librosa' in sys.modules, 'lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


@pytest.mark.parametrize("case", ["missing", "file", "empty", "no_audio"])
def test_dataset_errors_name_the_path(tmp_path: Path, case: str) -> None:
    target = tmp_path / "data"
    expected = {
        "missing": "does not exist",
        "file": "is a file",
        "empty": "is empty",
        "no_audio": "contains no audio files",
    }[case]
    if case == "file":
        target.write_bytes(b"RIFF")
    elif case == "empty":
        target.mkdir()
    elif case == "no_audio":
        target.mkdir()
        (target / "readme.txt").write_text("no audio here")
        (target / ".hidden.wav").write_bytes(b"x")
    with pytest.raises(DatasetError) as info:
        discover_audio_files(target)
    msg = str(info.value)
    assert str(target) in msg and expected in msg and "\n" not in msg
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------------------------- framing


def test_frames_rule() -> None:
    assert frames_for(48000) == 94  # 93.75 -> 94
    assert frames_for(512) == 1 and frames_for(513) == 2 and frames_for(1) == 1
    s = MelSettings()
    assert s.chunk_frames(1.0) == 94 and s.f_max == 24000.0
    assert audio_to_mel(np.zeros(48000, np.float32), s).shape == (128, 94)
    assert audio_to_mel(np.zeros(100, np.float32), s).shape == (128, 1)
    with pytest.raises(ValueError):
        MelSettings(n_mels=0)
    with pytest.raises(ValueError):
        MelSettings(fmax=30000.0)


def test_filterbank_matches_librosa() -> None:
    import librosa

    for s in [MelSettings(), MelSettings(sample_rate=22050, n_fft=1024, n_mels=80, fmin=30.0)]:
        ref = librosa.filters.mel(
            sr=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin, fmax=s.f_max
        )
        np.testing.assert_allclose(mel_filterbank(s), ref, rtol=1e-5, atol=1e-7)


def test_mel_matches_librosa_and_batched_variant(make_tone) -> None:
    """Against independent references: librosa's mel filterbank and scipy's STFT (librosa's own
    STFT gives the same magnitudes to 4e-5 here, but its numba kernels compile for ~18 s on a
    fresh machine), framed as ``librosa.stft(center=True, pad_mode="constant")`` frames."""
    import librosa
    import scipy.signal

    s = MelSettings()
    x = make_tone(1.0, freq=330.0) + 0.01 * np.random.default_rng(0).standard_normal(48000)
    x = x.astype(np.float32)
    mel = audio_to_mel(x, s)
    window = scipy.signal.get_window("hann", 2048, fftbins=True)  # periodic, as librosa's
    _, _, spec = scipy.signal.stft(
        np.pad(x, (1024, 1024)),  # centred frames: n_fft // 2 zeros each side
        nperseg=2048,
        noverlap=2048 - 512,
        window=window,
        boundary=None,
        padded=False,
        detrend=False,
    )
    power = np.abs(spec * window.sum()) ** 2  # scipy scales frames by 1 / sum(window)
    filterbank = librosa.filters.mel(sr=48000, n_fft=2048, n_mels=128)
    np.testing.assert_allclose(mel, np.log1p(filterbank @ power[:, :94]), atol=2e-4, rtol=1e-4)
    assert mel.dtype == np.float32 and (mel >= 0).all()
    batch = audio_to_mel_torch(torch.from_numpy(np.stack([x, x[::-1].copy()])), s)
    assert batch.shape == (2, 128, 94)
    np.testing.assert_allclose(batch[0].numpy(), mel, atol=1e-5)


def test_long_signal_blocked_stft_is_seamless() -> None:
    s = MelSettings(sample_rate=8000, n_fft=256, hop_length=64, n_mels=32)
    x = np.random.default_rng(1).standard_normal(64 * 9000).astype(np.float32) * 0.1
    full = audio_to_mel(x, s)  # 9000 frames > one 4096-frame block
    part = audio_to_mel(x[: 64 * 5000], s)
    assert full.shape == (32, 9000)
    np.testing.assert_allclose(full[:, 4000:4999], part[:, 4000:4999], atol=1e-5)


# ---------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "subtype, fmt, ext",
    [
        ("PCM_U8", "WAV", "wav"),
        ("PCM_24", "WAV", "wav"),
        ("FLOAT", "WAV", "wav"),
        ("PCM_16", "FLAC", "flac"),
        ("PCM_16", "AIFF", "aiff"),
        ("VORBIS", "OGG", "ogg"),
        ("MPEG_LAYER_III", "MP3", "mp3"),
    ],
)
def test_formats_decode(tmp_path: Path, write_wav, subtype: str, fmt: str, ext: str) -> None:
    p = write_wav(tmp_path / f"x.{ext}", subtype=subtype, fmt=fmt, duration_s=0.5)
    y = load_audio(p, 48000, normalize_peak=True)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.shape[0] - 24000) <= 2400  # ogg/mp3 may add a little padding
    assert np.isclose(np.abs(y).max(), 0.95, atol=1e-3)
    assert audio_to_mel(y).mean() > 0.1


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_mixed_to_mono(tmp_path: Path, write_wav, make_tone, channels: int) -> None:
    data = make_tone(0.5, channels=channels)
    p = write_wav(tmp_path / "multi.wav", data=data)
    y = load_audio(p, 48000, normalize_peak=False)
    quantised = sf.read(p, dtype="float32")[0]
    np.testing.assert_allclose(y, quantised.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 96000])
def test_resampling(tmp_path: Path, write_wav, make_tone, rate: int) -> None:
    p = write_wav(tmp_path / "r.wav", data=make_tone(1.0, rate, freq=1000.0), sample_rate=rate)
    y = load_audio(p, 48000, normalize_peak=False)
    assert abs(y.shape[0] - 48000) <= 1
    spectrum = np.abs(np.fft.rfft(y[4800:-4800]))
    peak_hz = np.argmax(spectrum) * 48000 / (len(y) - 9600)
    assert abs(peak_hz - 1000.0) < 5


def _bad(path: Path, match: str) -> None:
    with pytest.raises(BadAudioFile) as info:
        load_audio(path, 48000, True)
    assert info.value.path == path and match in info.value.reason
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_files(tmp_path: Path, write_wav, make_tone) -> None:
    good = write_wav(tmp_path / "good.wav", duration_s=0.5).read_bytes()

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    _bad(empty, "0 bytes")

    zero = write_wav(tmp_path / "zero_len.wav", data=np.zeros(0, np.float32))
    _bad(zero, "zero length")

    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio" * 100)
    _bad(junk, "cannot be decoded")

    header_only = tmp_path / "header.wav"
    header_only.write_bytes(good[:30])
    _bad(header_only, "cannot be decoded")

    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good[: len(good) // 2])
    _bad(truncated, "truncated")

    fake_mp3 = tmp_path / "fake.mp3"
    fake_mp3.write_bytes(b"\x00\x01garbage" * 300)
    _bad(fake_mp3, "cannot be decoded")

    for name, value in [("nan.wav", np.nan), ("inf.wav", np.inf)]:
        data = make_tone(0.5)
        data[100] = value
        _bad(write_wav(tmp_path / name, data=data, subtype="FLOAT"), "NaN or infinite")

    silent = write_wav(tmp_path / "silent.wav", data=np.zeros(24000, np.float32))
    _bad(silent, "silent")


def test_riff_odd_chunk_padding_is_not_truncation(tmp_path: Path, write_wav) -> None:
    """A WAV with an odd-sized extra chunk before 'data' still decodes."""
    raw = write_wav(tmp_path / "a.wav", duration_s=0.2).read_bytes()
    pos = raw.index(b"data")
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    patched = bytearray(raw[:pos] + extra + raw[pos:])
    patched[4:8] = struct.pack("<I", len(patched) - 8)
    p = tmp_path / "b.wav"
    p.write_bytes(bytes(patched))
    assert load_audio(p, 48000, True).shape[0] == 9600


# ---------------------------------------------------------------------------------- chunking


def test_file_to_chunks_shapes_padding_and_silence(tmp_path: Path, write_wav, make_tone) -> None:
    s = MelSettings()
    p = write_wav(tmp_path / "three.wav", duration_s=3.0)
    assert file_to_chunks(p, s).shape == (3, 1, 128, 94)
    assert file_to_chunks(p, s, chunk_hop_s=0.5).shape == (5, 1, 128, 94)

    short = write_wav(tmp_path / "short.wav", duration_s=0.1)  # shorter than a chunk: padded
    c = file_to_chunks(short, s)
    assert c.shape == (1, 1, 128, 94)
    assert (c[0, 0, :, 12:] == 0).all() and c[0, 0, :, :9].sum() > 0

    # 1 s tone, 3 s digital silence, 1 s tone = 5 chunks of 94 frames (1.0027 s): chunks 1 and
    # 2 hold only silence and are dropped; chunk 3 reaches 512 samples into the second tone.
    x = np.concatenate([make_tone(1.0), np.zeros(3 * 48000, np.float32), make_tone(1.0)])
    p = write_wav(tmp_path / "gap.wav", data=x)
    assert file_to_chunks(p, s).shape[0] == 3
    assert file_to_chunks(p, s, silence_threshold_db=-np.inf).shape[0] == 5

    quiet = write_wav(tmp_path / "quiet.wav", duration_s=2.0, amp=1e-4)  # -80 dBFS
    assert file_to_chunks(quiet, s).shape[0] == 2  # peak normalisation lifts it
    with pytest.raises(BadAudioFile, match="all chunks are silent"):
        file_to_chunks(quiet, s, normalize_peak=False)


def test_ten_minute_file_is_chunked(tmp_path: Path, write_wav) -> None:
    t = np.arange(8000 * 600) / 8000
    data = (0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    p = write_wav(tmp_path / "long.wav", data=data, sample_rate=8000)
    chunks = file_to_chunks(p, MelSettings())
    assert chunks.shape[1:] == (1, 128, 94)
    assert math.floor(600 * 48000 / 512 / 94) <= chunks.shape[0] <= 600


# ---------------------------------------------------------------------------------- inversion


def test_mel_audio_mel_roundtrip_keeps_spectral_shape(tmp_path: Path) -> None:
    from rvqvae.data.synth import generate_synth_dataset

    s = MelSettings()
    folder = generate_synth_dataset(
        tmp_path / "synth", 3, seed=3, min_duration_s=1.0, max_duration_s=1.5
    )
    for f in sorted(folder.glob("*.wav")):
        mel = audio_to_mel(load_audio(f, 48000, True), s)
        mel2 = audio_to_mel(mel_to_audio(mel, s, n_iter=32), s)
        assert mel2.shape == mel.shape
        # coarse spectral shape: time-averaged log-mel spectrum. Measured on synth files:
        # 0.006-0.033 absolute (log1p units), 2-6 % of the mean level. Bounds keep ~2.5x margin.
        err = np.abs(mel.mean(axis=1) - mel2.mean(axis=1)).mean()
        assert err < 0.08 and err / mel.mean() < 0.15, (f.name, err, mel.mean())
        assert np.abs(mel - mel2).mean() < 0.15


def test_chunks_to_audio_length(tmp_path: Path, write_wav) -> None:
    p = write_wav(tmp_path / "two.wav", duration_s=2.0)
    chunks = file_to_chunks(p)
    y = chunks_to_audio(torch.from_numpy(chunks), n_iter=4)
    assert y.dtype == np.float32 and y.shape == (2 * 94 * 512,)
    assert np.isfinite(y).all() and np.abs(y).max() > 0
