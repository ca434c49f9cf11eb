"""The RVQ codes file (``.codes.npz``): a portable, numpy-only container for encoded audio.

A codes file is written with ``np.savez`` and holds plain arrays only (no pickled objects), so
``np.load(path, allow_pickle=False)`` reads it anywhere numpy exists - no torch, no rvqvae.

Format version 2, keys (scalars are 0-d arrays; ``N`` chunks, ``P = H*W`` positions, ``Q``
levels):

============================  ==========================  ======================================
key                           dtype / shape               meaning
============================  ==========================  ======================================
``format_version``            int64 ``[]``                2 (version 1: no ``layout`` and
                                                          ``generator`` keys; read as "chunks")
``layout``                    str ``[]``                  ``"chunks"`` (overlapping chunks) or
                                                          ``"grid"`` (one whole-file grid)
``codes``                     uint8/16/32 ``[N, P, Q]``   RVQ indices; the smallest unsigned
                                                          dtype holding ``codebook_size - 1``
``spatial_shape``             int64 ``[N, 2]``            latent grid (H, W) of each chunk;
                                                          position p = h * W + w
``chunk_starts``              int64 ``[N]``               first mel frame of each chunk
``num_chunks``                int64 ``[]``                N
``chunk_frames``              int64 ``[]``                mel frames per chunk (C)
``chunk_hop_frames``          int64 ``[]``                frames between chunk starts (C/2 by
                                                          default: 50 % overlap)
``chunk_duration_s``          float64 ``[]``              training chunk duration (s)
``chunk_hop_s``               float64 ``[]``              ``chunk_hop_frames * hop / sr``
``num_frames``                int64 ``[]``                mel frames of the whole file (F),
                                                          ``ceil(num_samples / hop_length)``
``num_samples``               int64 ``[]``                original length in samples at
                                                          ``sample_rate`` (decode output length)
``sample_rate`` ``n_fft``     int64 ``[]``                mel analysis parameters (log1p of a
``hop_length`` ``n_mels``                                 Slaney mel power spectrogram, frames
``fmin`` ``fmax`` ``power``   float64 ``[]``              centred on ``t * hop_length``; fmax
                                                          resolved, never None)
``normalize_peak``            bool ``[]``                 audio was peak-normalised to 0.95
``peak_gain``                 float64 ``[]``              gain applied by that normalisation
``source_sample_rate``        int64 ``[]``                sample rate of the input file
``source_num_samples``        int64 ``[]``                its length in samples at that rate
``source_name``               str ``[]``                  input file name (relative path)
``codebook_size``             int64 ``[]``                codes per level
``num_quantizers``            int64 ``[]``                RVQ levels of the model (Q)
``model_config``              str ``[]``                  JSON: ConvVQVAE constructor arguments
``run_config``                str ``[]``                  JSON: the full resolved training config
``weights_sha256``            str ``[]``                  sha256 of the model weights (see
                                                          :func:`rvqvae.codec.model.weights_sha256`)
``generator``                 str ``[]``                  JSON object: provenance of generated
                                                          codes (prior checkpoint, seed,
                                                          temperature, ...); ``{}`` for audio
============================  ==========================  ======================================

Layout ``"chunks"``: chunk ``k`` starts at ``k * chunk_hop_frames`` and covers mel frames
``[chunk_starts[k], chunk_starts[k] + chunk_frames)`` (frames past ``num_frames`` are zero
padding); every chunk has ``H, W = ceil(n_mels / 16), ceil(chunk_frames / 16)``. Decoding
crossfades the decoded chunk mels with a sin^2 window normalised so that the weights sum to one
at every frame, then crops to ``num_frames``.

Layout ``"grid"``: the whole file as one time-continuous grid (:mod:`rvqvae.codec.grid`):
``N = 1``, ``chunk_starts = [0]``, ``spatial_shape = [[rows, cols]]`` with
``rows = ceil(n_mels / 16)`` and ``cols = ceil(num_frames / 16)``, and
``chunk_frames = chunk_hop_frames = 16 * cols`` (the frames the grid spans, zero padded past
``num_frames``), so ``codes[0].reshape(rows, cols, Q)`` is the grid and a reader that only knows
chunks decodes it correctly as one chunk. Decoding runs the decoder over the whole grid and
crops to ``num_frames``.

:func:`load_codes` refuses a file that is not an ``.npz``, and checks every field against the
others (:func:`rvqvae.codec.spec.validate_arrays`): ``num_samples`` against the source length and
rate, ``num_frames`` against ``num_samples``, the chunk plan or grid shape against both, levels
and code range against ``num_quantizers`` / ``codebook_size`` (and those against
``model_config``). Each failure is one :class:`CodesFormatError` line naming the file and field.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rvqvae.atomic import atomic_write_bytes
from rvqvae.codec.spec import (  # re-exported: the codec's errors and the format's constants
    FORMAT_VERSION,
    LAYOUTS,
    READABLE_VERSIONS,
    REMEDY,
    REQUIRED_KEYS,
    CodecError,
    CodesFormatError,
    validate_arrays,
)
from rvqvae.data.mel import MelSettings

SUFFIX = ".codes.npz"

__all__ = [
    "FORMAT_VERSION",
    "LAYOUTS",
    "READABLE_VERSIONS",
    "REQUIRED_KEYS",
    "SUFFIX",
    "CodecError",
    "CodesFile",
    "CodesFormatError",
    "check_decodable",
    "codes_dtype",
    "load_codes",
    "save_codes",
    "validate_arrays",
]


def codes_dtype(codebook_size: int) -> np.dtype:
    """Smallest unsigned integer dtype holding ``0 .. codebook_size - 1``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if codebook_size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise CodecError(f"codebook_size {codebook_size} does not fit in uint32")


@dataclass
class CodesFile:
    """In-memory content of a codes file (see the module docstring for every field)."""

    codes: np.ndarray  # [N, H*W, Q] unsigned integers
    spatial_shape: np.ndarray  # [N, 2] int64
    chunk_starts: np.ndarray  # [N] int64
    chunk_frames: int
    chunk_hop_frames: int
    chunk_duration_s: float
    num_frames: int
    num_samples: int
    settings: MelSettings
    normalize_peak: bool
    peak_gain: float
    source_sample_rate: int
    source_num_samples: int
    source_name: str
    codebook_size: int
    num_quantizers: int
    model_config: dict[str, Any]
    run_config: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    format_version: int = FORMAT_VERSION  # as read; files are always written as FORMAT_VERSION
    layout: str = "chunks"
    generator: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # where it was read from (for messages; not stored in the file)

    @property
    def num_chunks(self) -> int:
        return int(self.codes.shape[0])

    @property
    def chunk_hop_s(self) -> float:
        return self.chunk_hop_frames * self.settings.hop_length / self.settings.sample_rate

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.settings.sample_rate

    @property
    def grid(self) -> np.ndarray:
        """The code grid ``[rows, cols, Q]`` of a ``"grid"`` layout file (a view of ``codes``)."""
        if self.layout != "grid":
            raise CodecError(f"{self.source_name}: layout is {self.layout!r}, not 'grid'")
        rows, cols = (int(v) for v in self.spatial_shape[0])
        return self.codes[0].reshape(rows, cols, self.codes.shape[2])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``np.savez`` payload (plain arrays only), always in format ``FORMAT_VERSION``."""
        s = self.settings
        ints = {
            "format_version": FORMAT_VERSION,
            "num_chunks": self.num_chunks,
            "chunk_frames": self.chunk_frames,
            "chunk_hop_frames": self.chunk_hop_frames,
            "num_frames": self.num_frames,
            "num_samples": self.num_samples,
            "sample_rate": s.sample_rate,
            "n_fft": s.n_fft,
            "hop_length": s.hop_length,
            "n_mels": s.n_mels,
            "source_sample_rate": self.source_sample_rate,
            "source_num_samples": self.source_num_samples,
            "codebook_size": self.codebook_size,
            "num_quantizers": self.num_quantizers,
        }
        floats = {
            "chunk_duration_s": self.chunk_duration_s,
            "chunk_hop_s": self.chunk_hop_s,
            "fmin": s.fmin,
            "fmax": s.f_max,
            "power": s.power,
            "peak_gain": self.peak_gain,
        }
        strs = {
            "source_name": str(self.source_name),
            "model_config": json.dumps(self.model_config, sort_keys=True),
            "run_config": json.dumps(self.run_config, sort_keys=True, default=str),
            "weights_sha256": str(self.weights_sha256),
            "layout": str(self.layout),
            "generator": json.dumps(self.generator, sort_keys=True),
        }
        out: dict[str, np.ndarray] = {
            "codes": np.ascontiguousarray(self.codes, dtype=codes_dtype(self.codebook_size)),
            "spatial_shape": np.asarray(self.spatial_shape, dtype=np.int64).reshape(-1, 2),
            "chunk_starts": np.asarray(self.chunk_starts, dtype=np.int64).reshape(-1),
        }
        out.update({k: np.array(int(v), dtype=np.int64) for k, v in ints.items()})
        out.update({k: np.array(float(v), dtype=np.float64) for k, v in floats.items()})
        out.update({k: np.array(v) for k, v in strs.items()})
        out["normalize_peak"] = np.array(bool(self.normalize_peak))
        return out


def save_codes(codes_file: CodesFile, path: str | os.PathLike[str]) -> Path:
    """Validate and write ``codes_file`` to ``path`` atomically (``np.savez``, no pickle)."""
    arrays = codes_file.to_arrays()
    validate_arrays(arrays, str(path))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_codes(path: str | os.PathLike[str]) -> CodesFile:
    """Read and validate a codes file (format 2, or 1: read as layout ``"chunks"``).

    Raises:
        CodesFormatError: missing or unreadable file, pickled content, missing keys, wrong dtypes
            (e.g. float codes), inconsistent fields or out-of-range indices.
    """
    p = Path(path)
    if not p.is_file():
        raise CodesFormatError(f"codes file not found: {p}")
    _check_is_npz(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise CodesFormatError(
                f"{p}: not a readable codes file (it holds pickled object arrays, which are "
                f"never loaded); {REMEDY}"
            ) from None
        raise CodesFormatError(
            f"{p}: not a readable codes file ({_first(exc)}); {REMEDY}"
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise CodesFormatError(
            f"{p}: not a readable codes file ({_first(exc)}); {REMEDY}"
        ) from None
    arrays = validate_arrays(arrays, str(p))
    return _from_arrays(arrays, str(p))


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_is_npz(p: Path) -> None:
    """Refuse, in one line, a file that is not an ``.npz`` (zip) archive at all."""
    try:
        with p.open("rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise CodesFormatError(f"{p}: cannot be read ({_first(exc)})") from None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return
    what = "empty" if not head else "a single .npy array" if head == b"\x93NUMPY" else None
    raise CodesFormatError(
        f"{p}: not a codes file: {what or 'not an .npz (zip) archive'}; give a .codes.npz "
        "written by python -m rvqvae.encode (or rvqvae.generate)"
    )


def _from_arrays(arrays: dict[str, np.ndarray], where: str) -> CodesFile:
    fmax = float(arrays["fmax"])  # stored resolved; None (= sample_rate / 2) round-trips
    try:
        settings = MelSettings(
            sample_rate=int(arrays["sample_rate"]),
            n_fft=int(arrays["n_fft"]),
            hop_length=int(arrays["hop_length"]),
            n_mels=int(arrays["n_mels"]),
            fmin=float(arrays["fmin"]),
            fmax=None if fmax == int(arrays["sample_rate"]) / 2 else fmax,
            power=float(arrays["power"]),
        )
    except ValueError as exc:
        raise CodesFormatError(f"{where}: invalid mel settings ({exc}); {REMEDY}") from None
    return CodesFile(
        codes=arrays["codes"],
        spatial_shape=arrays["spatial_shape"].astype(np.int64),
        chunk_starts=arrays["chunk_starts"].astype(np.int64),
        chunk_frames=int(arrays["chunk_frames"]),
        chunk_hop_frames=int(arrays["chunk_hop_frames"]),
        chunk_duration_s=float(arrays["chunk_duration_s"]),
        num_frames=int(arrays["num_frames"]),
        num_samples=int(arrays["num_samples"]),
        settings=settings,
        normalize_peak=bool(arrays["normalize_peak"]),
        peak_gain=float(arrays["peak_gain"]),
        source_sample_rate=int(arrays["source_sample_rate"]),
        source_num_samples=int(arrays["source_num_samples"]),
        source_name=str(arrays["source_name"]),
        codebook_size=int(arrays["codebook_size"]),
        num_quantizers=int(arrays["num_quantizers"]),
        model_config=json.loads(str(arrays["model_config"])),
        run_config=json.loads(str(arrays["run_config"])),
        weights_sha256=str(arrays["weights_sha256"]),
        format_version=int(arrays["format_version"]),
        layout=str(arrays["layout"]),
        generator=json.loads(str(arrays["generator"])),
        path=where,
    )


def check_decodable(
    codes: CodesFile,
    settings: MelSettings,
    num_quantizers: int,
    codebook_size: int,
    levels: int | None = None,
) -> None:
    """Check ``codes`` (and ``levels``) against the model that is to decode them.

    Raises:
        CodecError: one line naming the field (levels, codebook_size, num_quantizers, or a
            mel setting that fixes the output's shape: sample_rate, hop_length, n_mels).
    """
    where = codes.path or codes.source_name
    q = codes.codes.shape[2]
    if levels is not None and not 1 <= int(levels) <= q:
        raise CodecError(f"levels must be in [1, {q}] for these codes ({where}), got {levels!r}")
    fix = "decode with the checkpoint that wrote them"
    if codes.codebook_size > codebook_size:
        raise CodecError(
            f"{where}: codebook_size={codes.codebook_size} but the checkpoint's model has "
            f"{codebook_size} codes per level; {fix}"
        )
    if q > num_quantizers:
        raise CodecError(
            f"{where}: codes have {q} levels (num_quantizers={codes.num_quantizers}) but the "
            f"checkpoint's model has {num_quantizers}; {fix}, or pass levels<={num_quantizers}"
        )
    for key in ("sample_rate", "hop_length", "n_mels"):
        ours, theirs = getattr(codes.settings, key), getattr(settings, key)
        if ours != theirs:
            raise CodecError(
                f"{where}: {key}={ours} but the checkpoint's model uses {theirs}; {fix}"
            )
