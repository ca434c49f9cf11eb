"""What a listener's ear and the vocoder share: metrics of mel -> audio against the original.

- **log-spectral distance** (LSD) at STFT sizes other than the analysis one (these hear phase
  errors, which smear energy across frames and bins): per frame the RMS over bins of
  ``log10(|X|^2 + eps) - log10(|Y|^2 + eps)``, averaged over frames (Hann, hop n_fft / 4);
- **mel consistency**: L1 between the log-mel of the output and the log-mel it was made from;
- **x real time**: seconds of audio synthesised per second of wall time.

Three ways of making audio from a mel are compared (:func:`compare_synthesis`): Griffin-Lim,
the trained vocoder, and the **ideal-phase reference** - the mel's magnitude (the same
mel -> linear mapping Griffin-Lim uses) with the original's phase, the best any vocoder can do
from that mel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rvqvae.data.mel import MelSettings, audio_to_mel
from rvqvae.vocoder.griffinlim import mel_to_magnitude, torch_threads

LSD_SIZES = (256, 512, 1024, 2048, 4096, 8192)
_EPS = 1e-8


@dataclass
class Clip:
    """One file: the original audio ``[N]``, its analysis mel and optionally the VQ-VAE's
    reconstruction of that mel (both ``[n_mels, ceil(N / hop)]``)."""

    audio: np.ndarray
    mel: np.ndarray
    recon: np.ndarray | None = None


def _power(y: np.ndarray, n_fft: int) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(y, np.float32))
    if x.shape[0] < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - x.shape[0]))
    spec = torch.stft(
        x, n_fft, n_fft // 4, window=torch.hann_window(n_fft), center=True, return_complex=True
    )
    return spec.abs().square()


def log_spectral_distance(ref: np.ndarray, est: np.ndarray, n_fft: int) -> float:
    """LSD between two signals of the same length at STFT size ``n_fft`` (0 = identical)."""
    n = min(ref.shape[0], est.shape[0])
    diff = torch.log10(_power(ref[:n], n_fft) + _EPS) - torch.log10(_power(est[:n], n_fft) + _EPS)
    return float(diff.square().mean(dim=0).sqrt().mean())


def mel_consistency(audio: np.ndarray, mel: np.ndarray, settings: MelSettings) -> float:
    """L1 between ``audio``'s log-mel and ``mel`` (the frames both have)."""
    again = audio_to_mel(audio, settings)
    t = min(again.shape[1], mel.shape[1])
    return float(np.abs(again[:, :t] - mel[:, :t]).mean())


@torch_threads(1)
def ideal_phase_audio(mel: np.ndarray, original: np.ndarray, settings: MelSettings) -> np.ndarray:
    """The mel's magnitude with ``original``'s phase, ``original``'s length."""
    n_fft, hop = settings.n_fft, settings.hop_length
    window = torch.hann_window(n_fft)
    x = torch.from_numpy(np.ascontiguousarray(original, np.float32))
    phase = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True).angle()
    mag = mel_to_magnitude(torch.from_numpy(np.asarray(mel, np.float32)), settings)
    t = min(mag.shape[1], phase.shape[1])
    spec = torch.polar(mag[:, :t], phase[:, :t])
    y = torch.istft(spec, n_fft, hop, window=window, center=True, length=x.shape[0])
    return y.numpy().astype(np.float32)


Synth = Callable[[np.ndarray, int], np.ndarray]
# More figures of an output against its original, ``f(original, output) -> float`` (e.g. ViSQOL,
# PESQ): averaged over the clips beside the LSD; None (e.g. PESQ on a silent clip) is skipped.
ExtraMetric = Callable[[np.ndarray, np.ndarray], float | None]


def score(
    clips: Sequence[Clip],
    make: Callable[[Clip, np.ndarray], np.ndarray],
    source: str,
    settings: MelSettings,
    sizes: Sequence[int] = LSD_SIZES,
    extra: dict[str, ExtraMetric] | None = None,
) -> dict[str, object]:
    """Mean LSD per size, mel consistency, x real time and each of ``extra`` of
    ``make(clip, mel)`` over clips, ``mel`` being the clip's ``source`` (``mel`` or ``recon``)."""
    lsd = {str(n): 0.0 for n in sizes}
    consistency, wall, seconds = 0.0, 0.0, 0.0
    extras: dict[str, list[float]] = {name: [] for name in extra or {}}
    for clip in clips:
        mel = clip.mel if source == "mel" else clip.recon
        if mel is None:
            raise ValueError("clips without a reconstruction cannot be scored from recon")
        start = time.perf_counter()
        y = make(clip, mel)
        wall += time.perf_counter() - start
        seconds += clip.audio.shape[0] / settings.sample_rate
        for n in sizes:
            lsd[str(n)] += log_spectral_distance(clip.audio, y, n) / len(clips)
        consistency += mel_consistency(y, mel, settings) / len(clips)
        for name, metric in (extra or {}).items():
            value = metric(clip.audio, y)
            if value is not None:
                extras[name].append(float(value))
    out: dict[str, object] = {"lsd": lsd, "mel_consistency": consistency}
    out.update({name: float(np.mean(v)) if v else None for name, v in extras.items()})
    out["x_realtime"] = seconds / max(wall, 1e-9)
    return out


def compare_synthesis(
    clips: Sequence[Clip],
    synths: dict[str, Synth],
    settings: MelSettings,
    sizes: Sequence[int] = LSD_SIZES,
    extra: dict[str, ExtraMetric] | None = None,
) -> dict[str, object]:
    """Every synthesiser in ``synths`` (name -> ``f(mel, length)``) and the ideal-phase
    reference, from the analysis mel and (when the clips carry one) the reconstruction, with
    the ``extra`` metrics beside the LSD.

    Returns ``{"from_mel": {name: scores}, "from_recon": ..., "gap_closed": {...}}``, where
    ``gap_closed[source][name][size]`` is the share of the Griffin-Lim -> ideal-phase LSD gap
    that ``name`` closes (1 = as good as the ideal phase); None where there is no gap (the
    ideal-phase reference is no better than Griffin-Lim: from a VQ-VAE reconstruction it keeps
    the reconstruction's magnitude errors, so compare the LSDs themselves there).
    """
    out: dict[str, object] = {"lsd_sizes": list(sizes), "files": len(clips)}
    gaps: dict[str, object] = {}
    sources = ["mel"] + (["recon"] if clips and all(c.recon is not None for c in clips) else [])
    for source in sources:
        rows: dict[str, dict] = {}
        for name, synth in synths.items():
            rows[name] = score(
                clips, lambda c, m, f=synth: f(m, c.audio.shape[0]), source, settings, sizes, extra
            )
        rows["ideal_phase"] = score(
            clips,
            lambda c, m: ideal_phase_audio(m, c.audio, settings),
            source,
            settings,
            sizes,
            extra,
        )
        rows["ideal_phase"].pop("x_realtime")
        out[f"from_{source}"] = rows
        if "griffinlim" in rows:
            gl, ideal = rows["griffinlim"]["lsd"], rows["ideal_phase"]["lsd"]
            gaps[f"from_{source}"] = {
                name: {
                    n: (gl[n] - rows[name]["lsd"][n]) / (gl[n] - ideal[n])
                    if gl[n] > ideal[n]
                    else None
                    for n in gl
                }
                for name in rows
                if name not in ("griffinlim", "ideal_phase")
            }
    out["gap_closed"] = gaps
    return out


def flat_synthesis(result: dict[str, object]) -> dict[str, float]:
    """Scalar keys of a :func:`compare_synthesis` result, for summary.json, reports and W&B:
    ``synthesis/{recon,mel}/{griffinlim,vocoder,ideal_phase}/lsd_{n}``, ``.../mel_consistency``,
    ``.../x_realtime``, ``.../visqol`` (when measured) and ``synthesis/{recon,mel}/gap_closed_{n}``
    (the vocoder's share of the Griffin-Lim -> ideal-phase LSD gap)."""
    flat: dict[str, float] = {}
    for source in ("mel", "recon"):
        rows = result.get(f"from_{source}")
        if not isinstance(rows, dict):
            continue
        for name, row in rows.items():
            prefix = f"synthesis/{source}/{name}"
            for n, value in row.get("lsd", {}).items():
                flat[f"{prefix}/lsd_{n}"] = float(value)
            for key in ("mel_consistency", "x_realtime", "visqol"):
                if row.get(key) is not None:
                    flat[f"{prefix}/{key}"] = float(row[key])
        gaps = result.get("gap_closed", {})
        vocoder_gaps = gaps.get(f"from_{source}", {}).get("vocoder", {}) if gaps else {}
        for n, value in vocoder_gaps.items():
            if value is not None:
                flat[f"synthesis/{source}/gap_closed_{n}"] = float(value)
    return flat
