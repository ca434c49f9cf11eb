"""On-disk cache of per-file analysis (log-mel + frame powers), so a second run decodes nothing.

One entry per (file, parameters) under ``<root>/features/<kk>/<key>.npz``; the key is a SHA-256
of the file's absolute path, size and mtime (ns) plus every audio/mel parameter and a format
version. Changing a file or a parameter therefore misses only the affected entries. Each entry
also records its source (path, size, mtime), so :func:`prune` (``python -m rvqvae.data.cache
--prune``) can delete the entries of files that are gone or changed, which are never read again.

Bad files are cached too (an entry holding the reason), so a rerun does not re-decode them.

Writes are atomic (:mod:`rvqvae.atomic`): a crashed writer leaves at most a ``*.tmp`` file that
is never read. An entry that cannot be loaded or does not hold what this cache would have
written (truncated, wrong dtype or shape, frame count not matching its sample count, NaN/inf)
is counted as ``corrupt``, recomputed and rewritten.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import threading
from pathlib import Path

import numpy as np

from rvqvae.atomic import atomic_write_bytes, remove_stale_temp_files
from rvqvae.data import chunks
from rvqvae.data.chunks import FileFeatures
from rvqvae.data.io import PEAK_TARGET, SILENT_PEAK_DB, BadAudioFile
from rvqvae.data.mel import MelSettings

CACHE_VERSION = 1
CACHE_ENV = "RVQVAE_CACHE_DIR"


def default_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` if given, else ``$RVQVAE_CACHE_DIR``, else ``~/.cache/rvqvae``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rvqvae"


class FeatureCache:
    """Cache of :class:`FileFeatures` for one set of analysis parameters.

    ``stats`` counts ``hits``, ``misses`` (decodes) and ``corrupt`` entries since creation.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        settings: MelSettings,
        normalize_peak: bool = True,
    ) -> None:
        self.root = default_cache_dir(root) / "features"
        self.settings = settings
        self.normalize_peak = bool(normalize_peak)
        self.stats = {"hits": 0, "misses": 0, "corrupt": 0}
        self._lock = threading.Lock()  # stats are updated from loader threads
        params = {
            "version": CACHE_VERSION,
            "settings": settings.to_dict(),
            "normalize_peak": self.normalize_peak,
            "peak_target": PEAK_TARGET,
            "silent_peak_db": SILENT_PEAK_DB,
        }
        self._params = json.dumps(params, sort_keys=True)

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _source(self, path: str | os.PathLike[str]) -> tuple[Path, os.stat_result]:
        p = Path(path).resolve()
        return p, p.stat()

    def _key_of(self, source: Path, st: os.stat_result) -> str:
        ident = f"{source}\0{st.st_size}\0{st.st_mtime_ns}\0{self._params}"
        return hashlib.sha256(ident.encode()).hexdigest()

    def key(self, path: str | os.PathLike[str]) -> str:
        """Hex key of ``path``'s current contents (path, size, mtime) and the parameters."""
        return self._key_of(*self._source(path))

    def _entry_of(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def entry_path(self, path: str | os.PathLike[str]) -> Path:
        """Where the entry of ``path``'s current contents lives (whether or not it exists)."""
        return self._entry_of(self.key(path))

    def _read(self, entry: Path) -> FileFeatures | BadAudioFile | None:
        """Stored value, or None when the entry is missing, unreadable or fails validation."""
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as z:
                if "error" in z.files:
                    return BadAudioFile(str(z["path"]), str(z["error"]))
                value = FileFeatures(
                    mel=z["mel"], frame_power=z["frame_power"], num_samples=z["num_samples"]
                )
            return self._validated(value)
        except Exception:
            self._count("corrupt")
            return None

    def _validated(self, value: FileFeatures) -> FileFeatures:
        """``value`` with a plain int ``num_samples``; ValueError unless it is what ``_write``
        stores for these parameters: float32 ``[n_mels, F]`` and ``[F]``, finite, non-negative
        power, and ``F`` the frame count of ``num_samples``."""
        mel, power, n = value.mel, value.frame_power, np.asarray(value.num_samples)
        if n.shape != () or n.dtype.kind not in "iu" or int(n) < 1:
            raise ValueError(f"num_samples {n!r} is not a positive integer")
        frames = self.settings.frames_for(int(n))
        if mel.dtype != np.float32 or mel.shape != (self.settings.n_mels, frames):
            raise ValueError(f"mel {mel.dtype}{mel.shape} is not float32 ({frames} frames)")
        if power.dtype != np.float32 or power.shape != (frames,):
            raise ValueError(f"frame_power {power.dtype}{power.shape} is not float32 [{frames}]")
        if not (np.isfinite(mel).all() and np.isfinite(power).all() and (power >= 0).all()):
            raise ValueError("entry holds NaN, inf or negative power")
        return FileFeatures(mel=mel, frame_power=power, num_samples=int(n))

    def _write(
        self, entry: Path, value: FileFeatures | BadAudioFile, source: Path, st: os.stat_result
    ) -> None:
        buf = io.BytesIO()
        origin = {
            "source": np.array(str(source)),
            "source_size": np.array(st.st_size, dtype=np.int64),
            "source_mtime_ns": np.array(st.st_mtime_ns, dtype=np.int64),
        }
        if isinstance(value, BadAudioFile):
            np.savez(buf, error=np.array(value.reason), path=np.array(str(value.path)), **origin)
        else:
            np.savez(
                buf,
                mel=np.ascontiguousarray(value.mel, dtype=np.float32),
                frame_power=np.ascontiguousarray(value.frame_power, dtype=np.float32),
                num_samples=np.array(value.num_samples, dtype=np.int64),
                **origin,
            )
        atomic_write_bytes(entry, buf.getvalue())

    def get(self, path: str | os.PathLike[str]) -> FileFeatures:
        """Features of ``path``, decoding (via ``chunks.analyse_file``) only on a cache miss.

        Raises:
            BadAudioFile: the file is unusable (also when that verdict comes from the cache).
        """
        try:
            source, st = self._source(path)
        except OSError as err:
            raise BadAudioFile(path, f"cannot be read ({err.strerror})") from None
        entry = self._entry_of(self._key_of(source, st))
        cached = self._read(entry)
        if cached is not None:
            self._count("hits")
            if isinstance(cached, BadAudioFile):
                raise BadAudioFile(path, cached.reason)
            return cached
        self._count("misses")
        try:
            value: FileFeatures | BadAudioFile = chunks.analyse_file(
                path, self.settings, self.normalize_peak
            )
        except BadAudioFile as err:
            value = err
        try:
            self._write(entry, value, source, st)
        except OSError:
            pass  # read-only or full cache folder: still usable, just not cached
        if isinstance(value, BadAudioFile):
            raise value
        return value


def _origin(entry: Path) -> tuple[Path, int, int] | None:
    """The (source path, size, mtime_ns) an entry records, or None (unreadable, or written
    before entries recorded their source)."""
    try:
        with np.load(entry, allow_pickle=False) as z:
            return Path(str(z["source"])), int(z["source_size"]), int(z["source_mtime_ns"])
    except Exception:
        return None


def prune(cache_dir: str | os.PathLike[str] | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete the feature entries whose source file is gone or changed (size or mtime).

    Such entries are never read again: their key can no longer be produced. Entries of files
    that still exist as recorded are kept whatever their parameters, as are entries that do not
    say where they came from (unreadable, or written before sources were recorded: delete the
    folder to reclaim those). A file on an unmounted drive counts as gone, so prune while every
    dataset you want to keep is reachable. Temp files of writers killed over an hour ago go too.

    Returns counts: ``removed``, ``kept``, ``unknown`` (entries) and ``temp`` (temp files).
    """
    root = default_cache_dir(cache_dir) / "features"
    counts = {"removed": 0, "kept": 0, "unknown": 0, "temp": 0}
    for entry in sorted(root.glob("*/*.npz")):
        origin = _origin(entry)
        if origin is None:
            counts["unknown"] += 1
            continue
        source, size, mtime_ns = origin
        try:
            st = source.stat()
            current = (st.st_size, st.st_mtime_ns) == (size, mtime_ns)
        except FileNotFoundError:
            current = False
        except OSError:
            current = True  # cannot tell (e.g. no permission): keep
        if current:
            counts["kept"] += 1
            continue
        if not dry_run:
            entry.unlink(missing_ok=True)
        counts["removed"] += 1
    if not dry_run:
        for folder in sorted(p for p in root.glob("*") if p.is_dir()):
            counts["temp"] += len(remove_stale_temp_files(folder, min_age_s=3600.0))
    return counts


def _config_cache_dir() -> Path:
    """The training config's ``paths.cache_dir``: ``$RVQVAE_CACHE_DIR``, else ``<root>/.cache``
    with root ``$RVQVAE_ROOT`` or the current folder."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(os.environ.get("RVQVAE_ROOT", ".")) / ".cache"


def main(argv: list[str] | None = None) -> int:
    """``python -m rvqvae.data.cache --prune [--cache-dir DIR] [--dry-run]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rvqvae.data.cache",
        description="Maintain the feature cache: --prune deletes entries of gone or changed files.",
    )
    parser.add_argument("--prune", action="store_true", required=True, help="prune the cache")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache folder (default: $RVQVAE_CACHE_DIR, else ./.cache, as paths.cache_dir)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    folder = args.cache_dir if args.cache_dir is not None else _config_cache_dir()
    counts = prune(folder, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{folder}: {verb} {counts['removed']} entries of gone or changed files, kept "
        f"{counts['kept']}, {counts['unknown']} of unknown origin kept, "
        f"{counts['temp']} stale temp files removed"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
