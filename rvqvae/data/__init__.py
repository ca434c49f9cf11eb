"""Audio data pipeline: discovery, decoding, log-mel chunks, on-disk cache, synth set, datamodule.

Importing this package is cheap (no torch, no librosa): the names below are loaded on first
access, so :func:`count_audio_files` can run at Hydra config-composition time.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AUDIO_EXTENSIONS": "discovery",
    "BadAudioFile": "io",
    "DatasetError": "discovery",
    "MelSettings": "mel",
    "audio_to_mel": "mel",
    "count_audio_files": "discovery",
    "discover_audio_files": "discovery",
    "file_to_chunks": "chunks",
    "frames_for": "mel",
    "load_audio": "io",
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
