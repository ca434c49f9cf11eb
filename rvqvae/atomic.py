"""Atomic file writes: the one way this project writes a file that must never be seen half-done.

Each write goes to a temporary file in the target's folder (``.<name>.<random>.tmp``), is
flushed (and fsync'ed where asked), given the permissions a plainly created file would get, and
moved into place with ``os.replace``. A crash leaves the previous file intact and at most one
stale ``*.tmp`` file, which :func:`remove_stale_temp_files` deletes.

The umask is read without changing it (``/proc/self/status`` on Linux); the old
set-to-0-and-back idiom races with ``mkdir`` in other threads and can leave world-writable
folders behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"


def _proc_umask() -> int | None:
    """The process umask from ``/proc/self/status`` (Linux), read without changing it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_by_setting() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Only where /proc says nothing (not Linux): read once at import, before loader threads run.
_FALLBACK_UMASK = _umask_by_setting() if _proc_umask() is None else 0o022


def default_file_mode() -> int:
    """Permissions a plainly created file gets (0o666 minus the umask); ``mkstemp`` uses 0o600."""
    mask = _proc_umask()
    return 0o666 & ~(_FALLBACK_UMASK if mask is None else mask)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    For writers that want a file name (``soundfile.write``, ``np.savez``, ``Image.save``). On
    any error the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    target: str | os.PathLike[str],
    write: Callable[[IO[bytes]], Any],
    *,
    fsync: bool = False,
) -> Path:
    """Call ``write(binary_file)`` on a temporary file, then move it onto ``target``."""
    target = Path(target)
    with atomic_path(target) as tmp:
        with tmp.open("wb") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return target


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``target`` atomically."""
    return atomic_write(target, lambda fh: fh.write(data), fsync=fsync)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], data: Any, *, indent: int = 2) -> Path:
    """Write ``data`` as JSON (non-JSON values via ``str``) to ``target`` atomically."""
    return atomic_write_text(target, json.dumps(data, indent=indent, default=str))


def remove_stale_temp_files(folder: str | os.PathLike[str], min_age_s: float = 0.0) -> list[Path]:
    """Delete ``.*.tmp`` files this module left in ``folder`` (not recursive) after a kill.

    Only files older than ``min_age_s`` go, so a writer in another process is not disturbed.
    Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    for path in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if path.is_file() and now - path.stat().st_mtime >= min_age_s:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed
