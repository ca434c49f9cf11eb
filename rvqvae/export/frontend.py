"""The mel front end written beside exported models, so another program computes the same mel.

``mel.json`` states the analysis (:mod:`rvqvae.data.mel`: centred Hann frames, zero padding,
``ceil(samples / hop)`` frames, ``log1p(filterbank @ |STFT|^power)``, peak normalisation) and
names two arrays: ``mel_filterbank.npy`` ``[n_mels, n_fft // 2 + 1]`` and ``mel_window.npy``
``[n_fft]`` (float32). ``examples/onnx_roundtrip.py`` computes it with numpy alone (tested
equal to :func:`rvqvae.data.mel.audio_to_mel`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rvqvae.data.io import PEAK_TARGET
from rvqvae.data.mel import MelSettings, mel_filterbank

FILTERBANK_FILE = "mel_filterbank.npy"
WINDOW_FILE = "mel_window.npy"
SPEC_FILE = "mel.json"


def hann_window(n_fft: int) -> np.ndarray:
    """The analysis window, as the training code computes it (``torch.hann_window``, periodic,
    float32: it differs from a float64 formula in the last bits)."""
    import torch

    return torch.hann_window(n_fft).numpy()


def frontend_spec(settings: MelSettings, normalize_peak: bool) -> dict[str, Any]:
    """The JSON-able description of the analysis (``mel.json``)."""
    return {
        **settings.to_dict(),
        "fmax": settings.f_max,
        "window": "hann (periodic)",
        "window_file": WINDOW_FILE,
        "filterbank_file": FILTERBANK_FILE,
        "filterbank": "Slaney (librosa.filters.mel(htk=False, norm='slaney'))",
        "framing": "frame t is centred on sample t * hop_length, zero padding outside the "
        "signal; ceil(samples / hop_length) frames",
        "value": "log1p(filterbank @ |rfft(window * frame)| ** power)",
        "normalize_peak": bool(normalize_peak),
        "peak_target": PEAK_TARGET,
        "mono": "channels averaged, then resampled to sample_rate",
    }


def write_frontend(folder: Path, settings: MelSettings, normalize_peak: bool) -> list[Path]:
    """Write ``mel.json``, the filterbank and the window into ``folder``; returns the paths."""
    import json

    spec = frontend_spec(settings, normalize_peak)
    np.save(folder / FILTERBANK_FILE, np.asarray(mel_filterbank(settings), np.float32))
    np.save(folder / WINDOW_FILE, hann_window(settings.n_fft))
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    return [folder / SPEC_FILE, folder / FILTERBANK_FILE, folder / WINDOW_FILE]
