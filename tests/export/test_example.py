"""examples/onnx_roundtrip.py: a WAV encoded and decoded with onnxruntime and numpy only."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from tests.helpers import REPO

EXAMPLE = REPO / "examples" / "onnx_roundtrip.py"
# runs the example as a script, then says whether torch was ever imported
NO_TORCH = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__');"
    " print('torch' in sys.modules, 'rvqvae' in sys.modules)"
)


def test_the_example_round_trips_a_wav_without_torch(onnx_export: Path, wavs, tmp_path) -> None:
    from rvqvae.codec.grid import decode_grid, encode_grid_file
    from rvqvae.codec.model import Codec
    from rvqvae.vocoder.checkpoint import load_vocoder

    wav, out = wavs[7.3], tmp_path / "out" / "music"
    args = [sys.executable, "-c", NO_TORCH, str(EXAMPLE), str(onnx_export), str(wav), str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record, imported = proc.stdout.strip().splitlines()
    assert imported == "False False"
    written = json.loads(record)

    manifest = json.loads((onnx_export / "manifest.json").read_text())
    codec = Codec.from_checkpoint(manifest["vqvae"]["checkpoint"])
    codes = encode_grid_file(codec, wav)  # the library's whole pipeline: read, mel, encode
    assert np.array_equal(np.load(written["codes"]), codes.grid)
    mel = decode_grid(codec.model, torch.from_numpy(codes.grid.astype(np.int64)), codes.num_frames)
    assert np.abs(np.load(written["mel"]) - mel.numpy()).max() <= 1e-4
    import soundfile as sf

    generator = load_vocoder(manifest["parts"]["vocoder"]["notes"]["checkpoint"]).generator
    with torch.no_grad():
        audio = generator(mel[None])[0, : codes.num_samples].numpy()
    assert np.abs(sf.read(written["wav"], dtype="float32")[0] - audio).max() <= 1e-4


def test_the_examples_numpy_mel_is_the_training_mel(onnx_export: Path, wavs) -> None:
    from rvqvae.data.io import load_audio
    from rvqvae.data.mel import MelSettings, audio_to_mel

    spec_ = importlib.util.spec_from_file_location("onnx_roundtrip", EXAMPLE)
    example = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(example)
    spec = json.loads((onnx_export / "mel.json").read_text())
    fb = np.load(onnx_export / spec["filterbank_file"])
    window = np.load(onnx_export / spec["window_file"])
    settings = MelSettings(
        sample_rate=spec["sample_rate"],
        n_fft=spec["n_fft"],
        hop_length=spec["hop_length"],
        n_mels=spec["n_mels"],
    )
    for seconds in (1.0, 7.3):
        audio = example.read_audio(wavs[seconds], spec)
        assert np.array_equal(audio, load_audio(wavs[seconds], spec["sample_rate"]))
        mel = example.log_mel(audio, spec, fb, window)
        assert np.abs(mel - audio_to_mel(audio, settings)).max() <= 1e-4
