"""The rules of a codes file: versions, layouts, required keys and their consistency.

:func:`validate_arrays` checks a ``.codes.npz`` payload field by field and every field against
the others, with one-line messages naming the field and what to do; the format itself, and
``check_decodable`` (a loaded file against the model that is to decode it), are in
:mod:`rvqvae.codec.format`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rvqvae.data.mel import frames_for

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
LAYOUTS = ("chunks", "grid")
DOWNSAMPLE = 16  # mel bins / frames per code position (rvqvae.models.vqvae.DOWNSAMPLE)
SAMPLES_TOLERANCE = 16  # num_samples may differ this much (or 0.1 %) from the resampled source

_INT_KEYS = (
    "format_version",
    "num_chunks",
    "chunk_frames",
    "chunk_hop_frames",
    "num_frames",
    "num_samples",
    "sample_rate",
    "n_fft",
    "hop_length",
    "n_mels",
    "source_sample_rate",
    "source_num_samples",
    "codebook_size",
    "num_quantizers",
)
_FLOAT_KEYS = ("chunk_duration_s", "chunk_hop_s", "fmin", "fmax", "power", "peak_gain")
_STR_KEYS = ("source_name", "model_config", "run_config", "weights_sha256", "layout", "generator")
_BOOL_KEYS = ("normalize_peak",)
_ARRAY_KEYS = ("codes", "spatial_shape", "chunk_starts")
_V2_KEYS = ("layout", "generator")
REQUIRED_KEYS: tuple[str, ...] = _ARRAY_KEYS + _INT_KEYS + _FLOAT_KEYS + _STR_KEYS + _BOOL_KEYS


class CodecError(ValueError):
    """A codec input that cannot be used; the message is one line."""


class CodesFormatError(CodecError):
    """A codes file that is unreadable, incomplete or inconsistent."""


# What to do about a codes file that fails a check: it was damaged or edited after writing.
REMEDY = "encode the audio again (python -m rvqvae.encode) or use the file as it was written"


def _scalar(arrays: dict[str, np.ndarray], key: str, kind: str, where: str) -> Any:
    value = arrays[key]
    if value.ndim != 0 or value.dtype.kind not in kind:
        raise CodesFormatError(
            f"{where}: key '{key}' must be a scalar of kind {kind!r}, "
            f"got dtype {value.dtype} shape {value.shape}; {REMEDY}"
        )
    return value.item()


def validate_arrays(arrays: dict[str, np.ndarray], where: str = "<codes>") -> dict[str, np.ndarray]:
    """Check keys, dtypes, shapes, index ranges and every field against the others.

    Returns the payload in format 2 (a version-1 payload gains ``layout="chunks"`` and
    ``generator="{}"``). Raises :class:`CodesFormatError` with one line naming the field.
    """

    def bad(message: str) -> CodesFormatError:
        return CodesFormatError(f"{where}: {message}; {REMEDY}")

    if "format_version" not in arrays:
        raise bad("missing key(s) format_version")
    version = _scalar(arrays, "format_version", "iu", where)
    if version not in READABLE_VERSIONS:
        raise CodesFormatError(
            f"{where}: format_version {version} is not supported (this reader: "
            f"{', '.join(map(str, READABLE_VERSIONS))}); read it with the rvqvae "
            "version that wrote it, or encode the audio again (python -m rvqvae.encode)"
        )
    if version == 1:  # before layouts: always chunks, never generated
        arrays = {k: v for k, v in arrays.items() if k not in _V2_KEYS}
        arrays.update(layout=np.array("chunks"), generator=np.array("{}"))
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise bad(f"missing key(s) {', '.join(missing)}")
    v = {k: _scalar(arrays, k, "iu", where) for k in _INT_KEYS}
    v.update({k: _scalar(arrays, k, "f", where) for k in _FLOAT_KEYS})
    v.update({k: _scalar(arrays, k, "U", where) for k in _STR_KEYS})
    v["normalize_peak"] = _scalar(arrays, "normalize_peak", "b", where)

    for k in _INT_KEYS:
        if v[k] < 0:
            raise bad(f"key '{k}' must be >= 0")
    codes = arrays["codes"]
    if codes.dtype.kind not in "ui":
        raise bad(f"codes must be integers, got dtype {codes.dtype}")
    if codes.ndim != 3:
        raise bad(f"codes must be [chunks, H*W, levels], got {codes.shape}")
    n, positions, q = codes.shape
    if v["num_chunks"] != n or n < 1:
        raise bad(f"num_chunks={v['num_chunks']} but codes hold {n} chunk(s)")
    cb, nq = v["codebook_size"], v["num_quantizers"]
    if not 1 <= q <= max(nq, 1) or cb < 2:
        raise bad(f"codes have {q} levels, num_quantizers={nq}")
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= cb):
        raise bad(
            f"code indices must be in [0, {cb - 1}], "
            f"got range [{int(codes.min())}, {int(codes.max())}]"
        )
    shapes, starts = arrays["spatial_shape"], arrays["chunk_starts"]
    if shapes.dtype.kind not in "iu" or shapes.shape != (n, 2):
        raise bad(f"spatial_shape must be int [{n}, 2], got {shapes.shape}")
    if (shapes.prod(axis=1) != positions).any() or (shapes < 1).any():
        raise bad(f"spatial_shape (H, W) does not match {positions} codes")
    if starts.dtype.kind not in "iu" or starts.shape != (n,):
        raise bad(f"chunk_starts must be int [{n}], got {starts.shape}")
    c, hop, frames = v["chunk_frames"], v["chunk_hop_frames"], v["num_frames"]
    if c < 1 or hop < 1:
        raise bad("chunk_frames and chunk_hop_frames must be >= 1")
    if v["num_samples"] < 1 or frames < 1:
        raise bad("num_samples and num_frames must be >= 1")
    if v["hop_length"] < 1 or v["sample_rate"] < 1:
        raise bad("hop_length and sample_rate must be >= 1")
    _check_lengths(v, bad)
    if frames != frames_for(v["num_samples"], v["hop_length"]):
        expected = frames_for(v["num_samples"], v["hop_length"])
        raise bad(f"num_frames={frames} must be ceil(num_samples / hop_length) = {expected}")
    if not np.isclose(v["chunk_hop_s"], hop * v["hop_length"] / v["sample_rate"]):
        raise bad(f"chunk_hop_s={v['chunk_hop_s']} is not chunk_hop_frames * hop / sr")
    if not (np.isfinite(v["peak_gain"]) and v["peak_gain"] > 0):
        raise bad(f"peak_gain must be > 0, got {v['peak_gain']}")
    if not v["normalize_peak"] and v["peak_gain"] != 1.0:
        raise bad(f"peak_gain={v['peak_gain']} but normalize_peak is false (gain 1.0)")
    if not (np.isfinite(v["chunk_duration_s"]) and v["chunk_duration_s"] > 0):
        raise bad(f"chunk_duration_s must be > 0, got {v['chunk_duration_s']}")
    h, w = -(-v["n_mels"] // DOWNSAMPLE), -(-c // DOWNSAMPLE)
    if v["layout"] == "grid":
        cols = -(-frames // DOWNSAMPLE)
        if n != 1:
            raise bad(f"grid layout must have exactly one chunk, got num_chunks={n}")
        if int(starts[0]) != 0:
            raise bad(f"grid layout: chunk_starts must be [0], got [{int(starts[0])}]")
        if int(shapes[0, 0]) != h or int(shapes[0, 1]) != cols:
            raise bad(
                f"grid layout: spatial_shape {shapes[0].tolist()} must be [ceil(n_mels / 16), "
                f"ceil(num_frames / 16)] = [{h}, {cols}] for n_mels={v['n_mels']}, "
                f"num_frames={frames}"
            )
        if c != DOWNSAMPLE * cols or hop != c:
            raise bad(
                f"grid layout: chunk_frames ({c}) and chunk_hop_frames ({hop}) must be "
                f"16 * cols = {DOWNSAMPLE * cols}"
            )
    elif v["layout"] == "chunks":
        if (shapes[:, 0] != h).any() or (shapes[:, 1] != w).any():
            raise bad(
                f"spatial_shape must be [ceil(n_mels / 16), ceil(chunk_frames / 16)] = "
                f"[{h}, {w}] for every chunk (n_mels={v['n_mels']}, chunk_frames={c})"
            )
        expected_c = frames_for(round(v["chunk_duration_s"] * v["sample_rate"]), v["hop_length"])
        if c != expected_c:
            raise bad(
                f"chunk_frames={c} must be the frames of chunk_duration_s="
                f"{v['chunk_duration_s']} = {expected_c}"
            )
        if hop > c:
            raise bad(f"chunk_hop_frames={hop} must be <= chunk_frames={c}")
        if (starts != np.arange(n) * hop).any():
            raise bad(f"chunk_starts must be k * chunk_hop_frames = 0, {hop}, {2 * hop}, ...")
        last = int(starts[-1])
        if not last < frames <= last + c:
            raise bad(f"the last chunk [{last}, {last + c}) must contain num_frames={frames}")
    else:
        raise bad(f"layout must be one of {', '.join(LAYOUTS)}, got {v['layout']!r}")
    _check_identity(v, bad)
    return arrays


def _check_lengths(v: dict[str, Any], bad: Any) -> None:
    """num_samples against the source length and rate, num_frames against num_samples."""
    src_sr, src_n, n = v["source_sample_rate"], v["source_num_samples"], v["num_samples"]
    if src_sr < 1 or src_n < 1:
        raise bad("source_sample_rate and source_num_samples must be >= 1")
    expected = src_n * v["sample_rate"] / src_sr  # resampling keeps the duration
    if abs(n - expected) > max(SAMPLES_TOLERANCE, 1e-3 * expected):
        raise bad(
            f"num_samples={n} does not match source_num_samples={src_n} at "
            f"source_sample_rate={src_sr} (about {round(expected)} at sample_rate="
            f"{v['sample_rate']})"
        )
    frames = v["num_frames"]
    if frames != frames_for(n, v["hop_length"]):
        expected_frames = frames_for(n, v["hop_length"])
        raise bad(f"num_frames={frames} must be ceil(num_samples / hop_length) = {expected_frames}")


def _check_identity(v: dict[str, Any], bad: Any) -> None:
    """JSON fields, the weights hash, and the model config against the top-level fields."""
    parsed = {}
    for k in ("model_config", "run_config", "generator"):
        try:
            parsed[k] = json.loads(v[k])
        except json.JSONDecodeError:
            raise bad(f"key '{k}' is not valid JSON") from None
        if not isinstance(parsed[k], dict):
            raise bad(f"key '{k}' must be a JSON object ({{}} when empty)")
    sha = v["weights_sha256"]
    if sha and (len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha)):
        raise bad(f"weights_sha256 must be 64 hex digits, got {sha[:20]!r}")
    for k in ("codebook_size", "num_quantizers"):
        if k in parsed["model_config"] and parsed["model_config"][k] != v[k]:
            raise bad(f"{k}={v[k]} but model_config has {k}={parsed['model_config'][k]}")
