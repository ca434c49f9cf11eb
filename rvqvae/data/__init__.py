"""Audio data pipeline: discovery, decoding, log-mel chunks, on-disk cache, synth set, datamodule.

Importing this package is cheap (no torch, no librosa): the names below are loaded on first
access, so :func:`count_audio_files` can run at Hydra config-composition time.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AUDIO_EXTENSIONS": "audio",
    "BadAudioFile": "audio",
    "DatasetError": "audio",
    "MelSettings": "audio",
    "audio_to_mel": "audio",
    "chunks_to_audio": "audio",
    "count_audio_files": "audio",
    "discover_audio_files": "audio",
    "file_to_chunks": "audio",
    "frames_for": "audio",
    "load_audio": "audio",
    "mel_to_audio": "audio",
    "FeatureCache": "cache",
    "default_cache_dir": "cache",
    "generate_synth_dataset": "synth",
    "MelDataModule": "datamodule",
    "count_usable_files": "datamodule",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rvqvae.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rvqvae.data.{module}"), name)
