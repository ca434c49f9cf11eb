"""Finding audio files (cheap: names and stat only, no decoding).

Imports only the standard library: :func:`count_audio_files` runs at Hydra config-composition
time.
"""

from __future__ import annotations

import os
from pathlib import Path

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        "wav",
        "wave",
        "flac",
        "ogg",
        "oga",
        "opus",
        "mp3",
        "aiff",
        "aif",
        "aifc",
        "au",
        "snd",
        "caf",
        "w64",
        "rf64",
    }
)
"""Lower-case file extensions (no dot) treated as audio. All are decoded by libsndfile."""


class DatasetError(ValueError):
    """A dataset folder cannot be used; the message is one line naming the path."""


def _is_audio_name(name: str) -> bool:
    return not name.startswith(".") and name.rpartition(".")[2].lower() in AUDIO_EXTENSIONS


def discover_audio_files(path: str | os.PathLike[str]) -> list[Path]:
    """Sorted list of audio files under ``path`` (recursive, by extension, no decoding).

    Hidden files and folders (name starting with ``.``) are ignored.

    Raises:
        DatasetError: ``path`` is missing, is a file, is empty or holds no audio files.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset path {root} does not exist: expected a folder of audio files")
    if not root.is_dir():
        raise DatasetError(f"dataset path {root} is a file: expected a folder of audio files")
    files: list[Path] = []
    seen_any = False
    for dirpath, dirnames, filenames in os.walk(root):
        seen_any = seen_any or bool(dirnames or filenames)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files.extend(Path(dirpath) / f for f in filenames if _is_audio_name(f))
    if not files:
        exts = ", ".join(sorted(AUDIO_EXTENSIONS))
        what = "contains no audio files" if seen_any else "is empty"
        raise DatasetError(f"dataset folder {root} {what}: expected audio files ({exts})")
    return sorted(files)


def count_audio_files(path: str | os.PathLike[str]) -> int:
    """Number of audio files :func:`discover_audio_files` finds (cheap, no decoding)."""
    return len(discover_audio_files(path))
