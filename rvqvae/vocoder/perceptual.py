"""What a run sounds like: ViSQOL and multi-resolution LSD of the codec's reconstruction.

Per file (its first ``max_seconds``, peak-normalised, the model's sample rate):

- ``visqol``: ViSQOL v3 (audio mode, 48 kHz; ``visqol-python``) MOS-LQO, 1 to ~4.73, of
  ``synth(recon mel)`` against ``synth(analysis mel)``: both through the same synthesiser
  (:func:`rvqvae.vocoder.synthesize.build_synthesizer`), so the vocoder cancels out and what is
  scored is what the codes lose;
- ``visqol_ceiling``: ``synth(analysis mel)`` against the raw original: what the mel and the
  synthesiser alone allow (an identical file scores 4.73);
- ``lsd`` / ``lsd_ceiling``: log-spectral distance of ``synth(recon mel)`` / ``synth(analysis
  mel)`` against the raw original, mean over the STFT sizes of
  :data:`rvqvae.vocoder.metrics.LSD_SIZES` (per size in ``lsd_sizes``).

Which metric hears what: ViSQOL compares gammatone magnitude patches and is nearly blind to
phase (Griffin-Lim of the analysis mel scores ~4.72 of 4.73, random phase 4.3-4.6), so it
judges the codes' magnitude errors; LSD at STFT sizes other than the analysis one also hears
phase (smeared energy across frames and bins); ``norm_l1`` is a mel L1 no listener uses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.vocoder.griffinlim import torch_threads
from rvqvae.vocoder.metrics import LSD_SIZES, log_spectral_distance
from rvqvae.vocoder.synthesize import Synthesizer

VISQOL_RATE = 48000  # ViSQOL's audio mode works at 48 kHz
VISQOL_MIN_SECONDS = 1.0  # shorter signals are padded with silence (0.95 s is too short)
SUMMARY_KEYS = ("visqol", "visqol_ceiling", "lsd", "lsd_ceiling")
_API: Any = None


def visqol(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float:
    """ViSQOL (audio mode) MOS-LQO of ``degraded`` against ``reference`` (mono, same rate;
    resampled to 48 kHz when needed; the shorter length of the two is scored, and padded with
    silence to ``VISQOL_MIN_SECONDS``, the shortest signal ViSQOL's patches fit in)."""
    global _API
    if _API is None:
        from visqol import VisqolApi

        _API = VisqolApi()
        _API.create(mode="audio")
    n = min(reference.shape[0], degraded.shape[0])
    pad = max(0, int(VISQOL_MIN_SECONDS * sample_rate) - n)
    ref, deg = (np.pad(np.asarray(x[:n], np.float64), (0, pad)) for x in (reference, degraded))
    if sample_rate != VISQOL_RATE:
        import soxr

        ref, deg = (soxr.resample(x, sample_rate, VISQOL_RATE) for x in (ref, deg))
    return float(_API.measure_from_arrays(ref, deg, VISQOL_RATE).moslqo)


def multires_lsd(
    reference: np.ndarray, degraded: np.ndarray, sizes: Sequence[int] = LSD_SIZES
) -> dict[str, float]:
    """:func:`~rvqvae.vocoder.metrics.log_spectral_distance` at each STFT size (``str(n)``), on
    one torch thread (small transforms: several times faster when other processes share the
    cores, as during a run or a test session)."""
    with torch_threads(1):
        return {str(n): log_spectral_distance(reference, degraded, n) for n in sizes}


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


Reconstruct = Callable[[np.ndarray], np.ndarray]  # analysis mel [n_mels, F] -> its recon


def load_clips(
    files: Sequence[str | os.PathLike[str]],
    settings: MelSettings,
    normalize_peak: bool = True,
    max_files: int = 4,
    max_seconds: float = 4.0,
) -> list[np.ndarray]:
    """The first ``max_seconds`` of the first ``max_files`` of ``files`` as the training
    pipeline reads them (mono, ``settings``' rate, peak-normalised when asked)."""
    from rvqvae.data.io import load_audio

    n = int(max_seconds * settings.sample_rate)
    return [
        np.ascontiguousarray(load_audio(f, settings.sample_rate, normalize_peak)[:n], np.float32)
        for f in list(files)[: max(0, int(max_files))]
    ]


def perceptual_scores(
    audios: Sequence[np.ndarray],
    settings: MelSettings,
    reconstruct: Reconstruct,
    synthesizer: Synthesizer,
    sizes: Sequence[int] = LSD_SIZES,
) -> dict[str, Any]:
    """ViSQOL, its ceiling and multi-resolution LSD (module docstring) of the codec's
    ``reconstruct`` over ``audios``; means over files plus ``per_file`` rows."""
    start = time.perf_counter()
    rate = settings.sample_rate
    rows: list[dict[str, Any]] = []
    for y in audios:
        mel = audio_to_mel(y, settings)
        recon = np.asarray(reconstruct(mel), np.float32)
        from_mel = synthesizer(mel, y.shape[0])
        from_recon = synthesizer(recon, y.shape[0])
        lsd, lsd_ceiling = multires_lsd(y, from_recon, sizes), multires_lsd(y, from_mel, sizes)
        rows.append(
            {
                "seconds": y.shape[0] / rate,
                "visqol": visqol(from_mel, from_recon, rate),
                "visqol_ceiling": visqol(y, from_mel, rate),
                "lsd": _mean(list(lsd.values())),
                "lsd_ceiling": _mean(list(lsd_ceiling.values())),
                "lsd_sizes": lsd,
            }
        )
    out: dict[str, Any] = {key: _mean([r[key] for r in rows]) for key in SUMMARY_KEYS}
    out["lsd_sizes"] = {str(n): _mean([r["lsd_sizes"][str(n)] for r in rows]) for n in sizes}
    out.update(
        files=len(rows),
        audio_seconds=float(sum(r["seconds"] for r in rows)),
        synthesis=synthesizer.describe(),
        eval_seconds=time.perf_counter() - start,
        per_file=rows,
    )
    return out


def summary_entries(result: dict[str, Any] | None, prefix: str = "val/") -> dict[str, Any]:
    """The flat summary keys (``val/visqol``, ...) of a :func:`perceptual_scores` result."""
    if not result or not result.get("files"):
        return {}
    return {f"{prefix}{key}": result[key] for key in SUMMARY_KEYS}


def format_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a :func:`perceptual_scores` result for a printed table."""
    return [
        ("ViSQOL recon (vs same synth)", f"{result['visqol']:.3f}"),
        ("ViSQOL ceiling (synth vs raw)", f"{result['visqol_ceiling']:.3f}"),
        ("LSD recon / ceiling (multi-res)", f"{result['lsd']:.3f} / {result['lsd_ceiling']:.3f}"),
        ("perceptual files", f"{result['files']} ({result['audio_seconds']:.1f} s)"),
    ]
