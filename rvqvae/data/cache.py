"""On-disk cache of per-file analysis (log-mel + frame powers), so a second run decodes nothing.

One entry per (file, parameters) under ``<root>/features/<kk>/<key>.npz``; the key is a SHA-256
of the file's absolute path, size and mtime (ns) plus every audio/mel parameter and a format
version. Changing a file or a parameter therefore misses only the affected entries; stale
entries are simply never read again (delete the folder to reclaim space).

Bad files are cached too (an entry holding the reason), so a rerun does not re-decode them.

Writes are atomic: the entry is written to a temporary file in the same folder and moved into
place with ``os.replace``; a crashed writer leaves at most a ``*.tmp`` file that is never read.
An entry that cannot be loaded (corrupt, truncated, wrong shape) is recomputed and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

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


def default_file_mode() -> int:
    """Permissions a plainly created file gets (0o666 minus the umask); ``mkstemp`` uses 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a temp file in the same folder and ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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

    def key(self, path: str | os.PathLike[str]) -> str:
        """Hex key of ``path``'s current contents (path, size, mtime) and the parameters."""
        p = Path(path).resolve()
        st = p.stat()
        ident = f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{self._params}"
        return hashlib.sha256(ident.encode()).hexdigest()

    def entry_path(self, path: str | os.PathLike[str]) -> Path:
        k = self.key(path)
        return self.root / k[:2] / f"{k}.npz"

    def _read(self, entry: Path) -> FileFeatures | BadAudioFile | None:
        """Stored value, or None when the entry is missing or unreadable."""
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as z:
                if "error" in z.files:
                    return BadAudioFile(str(z["path"]), str(z["error"]))
                mel = z["mel"]
                power = z["frame_power"]
                num_samples = int(z["num_samples"])
            ok = (
                mel.dtype == np.float32
                and mel.ndim == 2
                and mel.shape[0] == self.settings.n_mels
                and power.shape == (mel.shape[1],)
            )
            if not ok:
                raise ValueError("unexpected entry shape")
            return FileFeatures(mel=mel, frame_power=power, num_samples=num_samples)
        except Exception:
            self._count("corrupt")
            return None

    def _write(self, entry: Path, value: FileFeatures | BadAudioFile) -> None:
        import io

        buf = io.BytesIO()
        if isinstance(value, BadAudioFile):
            np.savez(buf, error=np.array(value.reason), path=np.array(str(value.path)))
        else:
            np.savez(
                buf,
                mel=np.ascontiguousarray(value.mel, dtype=np.float32),
                frame_power=np.ascontiguousarray(value.frame_power, dtype=np.float32),
                num_samples=np.array(value.num_samples, dtype=np.int64),
            )
        atomic_write_bytes(entry, buf.getvalue())

    def get(self, path: str | os.PathLike[str]) -> FileFeatures:
        """Features of ``path``, decoding (via ``audio.analyse_file``) only on a cache miss.

        Raises:
            BadAudioFile: the file is unusable (also when that verdict comes from the cache).
        """
        try:
            entry = self.entry_path(path)
        except OSError as err:
            raise BadAudioFile(path, f"cannot be read ({err.strerror})") from None
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
            self._write(entry, value)
        except OSError:
            pass  # read-only or full cache folder: still usable, just not cached
        if isinstance(value, BadAudioFile):
            raise value
        return value
