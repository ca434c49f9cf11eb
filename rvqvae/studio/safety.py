"""What the studio may read: files under the configured folders only, uploads of bounded size.

Every path a request names (a run, a validation file, a prompt, an upload) goes through
:meth:`Roots.check`: it is resolved (symlinks followed, ``..`` collapsed) and must lie inside
one of the resolved root folders, so neither ``../`` nor a symlink leads out of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class StudioError(ValueError):
    """A request the studio refuses or cannot serve; the message is one line for the page."""


def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve(strict=False)


@dataclass(frozen=True)
class Roots:
    """The folders the studio may read (runs, data) and write (its output folder)."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike[str]]) -> Roots:
        unique = dict.fromkeys(_resolved(f) for f in folders)
        return cls(tuple(unique))

    def allows(self, path: str | os.PathLike[str]) -> bool:
        """True when ``path``, symlinks resolved, lies inside one of the folders."""
        real = _resolved(path)
        return any(real == root or root in real.parents for root in self.folders)

    def check(self, path: str | os.PathLike[str] | None, what: str = "file") -> Path:
        """``path`` resolved, or :class:`StudioError` when it is missing or outside the folders."""
        if path is None or str(path).strip() == "":
            raise StudioError(f"no {what} given")
        if "\0" in str(path):
            raise StudioError(f"{what} {path!r}: not a path")
        if not self.allows(path):
            raise StudioError(
                f"{what} {path}: outside the folders this studio serves (runs, data, output)"
            )
        real = _resolved(path)
        if not real.exists():
            raise StudioError(f"{what} {path}: no such file or directory")
        return real


def check_upload(path: str | os.PathLike[str] | None, max_bytes: int, what: str = "upload") -> Path:
    """An uploaded file (in gradio's upload folder): present, a regular file, at most
    ``max_bytes``; decoding errors are the audio reader's own one-line messages."""
    if path is None:
        raise StudioError(f"no {what} given")
    p = Path(path)
    if not p.is_file():
        raise StudioError(f"{what} {p.name}: not a file")
    size = p.stat().st_size
    if size > max_bytes:
        raise StudioError(
            f"{what} {p.name}: {size / 1e6:.1f} MB is more than the limit of "
            f"{max_bytes / 1e6:.0f} MB (max_upload_mb)"
        )
    return p
