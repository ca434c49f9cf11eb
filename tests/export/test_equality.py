"""Exported files (onnxruntime on CPU, torch.jit.load) against the library on WAV files of
1 s, 7.3 s and 60 s: codes identical, mels, audio and prior logits within 1e-4."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

TOLERANCE = 1e-4


def _loaded(folder: Path) -> tuple[dict, dict]:
    from rvqvae.export.formats import load_runner

    manifest = json.loads((folder / "manifest.json").read_text())
    runners = {
        part: load_runner(folder / entry["file"], [t["name"] for t in entry["inputs"]])
        for part, entry in manifest["parts"].items()
    }
    return manifest, runners


def _file_mel(codec, wav: Path) -> np.ndarray:
    from rvqvae.data.io import load_audio
    from rvqvae.data.mel import audio_to_mel

    return audio_to_mel(load_audio(wav, codec.settings.sample_rate), codec.settings)


def _codec_figures(
    codec, runners: dict, mel: np.ndarray, levels: range
) -> tuple[np.ndarray, float]:
    """Exported codes (asserted equal to encode_grid) and the decoder's largest mel difference."""
    from rvqvae.codec.grid import decode_grid, encode_grid

    grid = encode_grid(codec.model, torch.from_numpy(mel)).numpy()
    codes = runners["encoder"](mel[None])[0][0]
    assert codes.dtype == np.int64 and np.array_equal(codes, grid)
    worst = 0.0
    for k in levels:
        got = runners["decoder"](codes[None], np.array(k, np.int64))[0][0, :, : mel.shape[1]]
        want = decode_grid(codec.model, torch.from_numpy(grid), mel.shape[1], levels=k).numpy()
        worst = max(worst, float(np.abs(got - want).max()))
    return grid, worst


def _prior_difference(prior, run, grid: np.ndarray) -> float:
    """Largest logit difference of the exported steps over ``grid``'s first window vs the
    prior's teacher-forced forward."""
    from rvqvae.export.prior_graph import PriorStepGraph, teacher_forced_steps

    window = prior.layout.to_columns(torch.from_numpy(grid))[None, : prior.context_columns]

    def step(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(map(torch.from_numpy, run(*(t.numpy() for t in tensors))))

    with torch.no_grad():
        got = teacher_forced_steps(step, window, PriorStepGraph(prior).empty_cache(1))
        return float((got - prior(window)).abs().max())


def test_onnx_equals_the_library_on_files(onnx_export: Path, wavs) -> None:
    _every_part_equals_the_library(onnx_export, wavs)


def test_torchscript_equals_the_library_on_files(script_export: Path, wavs) -> None:
    _every_part_equals_the_library(script_export, wavs)


def _every_part_equals_the_library(folder: Path, wavs: dict[float, Path]) -> None:
    from rvqvae.codec.model import Codec
    from rvqvae.prior.checkpoint import load_prior
    from rvqvae.vocoder.checkpoint import load_vocoder

    manifest, runners = _loaded(folder)
    assert sorted(runners) == ["decoder", "encoder", "prior", "vocoder"]
    codec = Codec.from_checkpoint(manifest["vqvae"]["checkpoint"])
    generator = load_vocoder(manifest["parts"]["vocoder"]["notes"]["checkpoint"]).generator
    prior = load_prior(manifest["parts"]["prior"]["notes"]["checkpoint"]).prior
    figures = {}
    for seconds in (1.0, 7.3):
        mel = _file_mel(codec, wavs[seconds])
        grid, mel_diff = _codec_figures(codec, runners, mel, range(1, 4))
        with torch.no_grad():
            audio = generator(torch.from_numpy(mel)[None]).numpy()
        audio_diff = float(np.abs(runners["vocoder"](mel[None])[0] - audio).max())
        figures[seconds] = {"mel": mel_diff, "audio": audio_diff}
        if seconds == 7.3:  # the prior's whole context window (8 columns), step by step
            figures[seconds]["logits"] = _prior_difference(prior, runners["prior"], grid)
        assert max(figures[seconds].values()) <= TOLERANCE, (seconds, figures)
    print(manifest["format"], figures)


def test_a_minute_through_onnx(onnx_export: Path, wavs) -> None:
    """60 s (352 columns: the library encodes and decodes it in column blocks)."""
    from rvqvae.codec.model import Codec

    manifest, runners = _loaded(onnx_export)
    codec = Codec.from_checkpoint(manifest["vqvae"]["checkpoint"])
    mel = _file_mel(codec, wavs[60.0])
    _, mel_diff = _codec_figures(codec, runners, mel, range(3, 4))
    assert mel_diff <= TOLERANCE
    print("60 s", mel_diff)


def test_a_batch_of_files_through_onnx(onnx_export: Path, wavs) -> None:
    """The batch axis is dynamic: two files' mels in one call give each file's own codes."""
    from rvqvae.codec.grid import decode_grid, encode_grid
    from rvqvae.codec.model import Codec

    manifest, runners = _loaded(onnx_export)
    codec = Codec.from_checkpoint(manifest["vqvae"]["checkpoint"])
    first = _file_mel(codec, wavs[1.0])
    mels = np.stack([first, _file_mel(codec, wavs[7.3])[:, : first.shape[1]]])
    codes = runners["encoder"](mels)[0]
    decoded = runners["decoder"](codes, np.array(2, np.int64))[0][..., : mels.shape[2]]
    for i, mel in enumerate(mels):
        grid = encode_grid(codec.model, torch.from_numpy(mel))
        assert np.array_equal(codes[i], grid.numpy())
        want = decode_grid(codec.model, grid, mel.shape[1], levels=2).numpy()
        assert np.abs(decoded[i] - want).max() <= TOLERANCE
