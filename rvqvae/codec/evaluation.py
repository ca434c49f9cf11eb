"""Score a checkpoint on any folder of audio: ``eval.json`` figures.

Data: every audio file under the folder goes through the training pipeline
(:func:`~rvqvae.data.loading.load_chunk_starts`, as the datamodule, -> ``slice_chunks``) with the
checkpoint's mel settings, **non-overlapping** chunks (hop = chunk), the same tail-padding and
silence rules as training, and no augmentation.

Metrics (all chunks pooled):

- ``mel_l1``: mean |recon - x| over every mel element (log1p power).
- ``norm_l1``: sum |recon - x| / sum |mean_train - x|, where ``mean_train`` ``[1, n_mels, C]``
  is the per-bin, per-frame mean **training** chunk stored in the checkpoint
  (``mean_train_mel``): the definition of ``val/norm_l1`` during training, so 1.0 = no better
  than predicting the training set's average chunk. ``norm_l1_baseline`` says which mean was
  used (a checkpoint without a stored mean falls back to the evaluated data's mean, and says so).
- ``norm_l1_eval_mean``: the same error over sum |mean_eval - x|, ``mean_eval`` being the mean
  chunk **of the evaluated data itself** (how much better than that data's own average).
- ``levels``: ``mel_l1`` / ``norm_l1`` / ``norm_l1_eval_mean`` decoding with the first
  k = 1..Q levels; ``trained`` is false where the decoder never saw k levels in training (no
  quantizer dropout): that row is out of distribution, and a warning says so.
- ``audio``: Griffin-Lim audio of the reconstruction vs Griffin-Lim audio of the ORIGINAL mel
  (same iterations and seed, so the vocoder is factored out), per chunk on the STFT magnitude
  ``|S|`` (the checkpoint's n_fft / hop, Hann window): spectral convergence
  ``||S_ref| - |S_rec|||_F / ||S_ref||_F`` and log-spectral distance
  ``mean_t sqrt(mean_f (10 log10 max(|S_ref|^2, floor) - 10 log10 max(|S_rec|^2, floor))^2)``
  dB with ``floor = 1e-8 * max |S_ref|^2`` (80 dB below the chunk's peak bin, so inaudible
  bins do not dominate); both averaged over chunks.
- ``codebook``: per-level utilization, perplexity and dead codes on this data.
- ``bitrate_bps``; ``speed``: seconds of audio processed per second (x real time) for the model
  encode/decode alone, decode plus Griffin-Lim, and end-to-end streaming encode of the files.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvqvae.codec.model import Codec
from rvqvae.data.cache import FeatureCache
from rvqvae.data.chunks import slice_chunks
from rvqvae.data.discovery import DatasetError, discover_audio_files
from rvqvae.data.loading import load_chunk_starts, warn_skipped
from rvqvae.data.mel import audio_to_mel
from rvqvae.timing import timed
from rvqvae.vocoder.griffinlim import mel_to_audio
from rvqvae.vocoder.synthesize import Synthesizer

log = logging.getLogger(__name__)

LSD_FLOOR = 1e-8  # power floor for the LSD, relative to the reference peak (-80 dB)
NORM_L1_BASELINE = "mean training chunk (checkpoint mean_train_mel), as val/norm_l1"
NORM_L1_FALLBACK = "mean chunk of the evaluated data (the checkpoint stores no training mean)"


def load_eval_chunks(
    codec: Codec,
    path: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None = None,
    silence_threshold_db: float | None = None,
    max_files: int | None = None,
    files: list[Path] | None = None,
) -> tuple[torch.Tensor, list[tuple[Path, int]], list[tuple[Path, str]]]:
    """Non-overlapping chunks ``[N, 1, n_mels, C]`` of the folder ``path`` (or of ``files``,
    e.g. one kind of a run's validation files; ``path`` is then not read), their (file, start
    frame) and the unusable files ``[(path, reason)]``.

    Raises:
        DatasetError: missing/empty folder, or no usable chunk in it.
    """
    if files is None and path is None:
        raise ValueError("load_eval_chunks needs a folder or a list of files")
    files = discover_audio_files(path) if files is None else list(files)
    if max_files is not None:
        files = files[: int(max_files)]
    cache = FeatureCache(cache_dir, codec.settings, codec.normalize_peak)
    c = codec.chunk_frames
    thr = codec.silence_threshold_db if silence_threshold_db is None else silence_threshold_db
    usable, bad = load_chunk_starts(files, cache, c, c, thr)
    warn_skipped(bad)
    parts = [slice_chunks(feats.mel, starts, c) for _, feats, starts in usable]
    sources = [(f, int(s)) for f, _, starts in usable for s in starts]
    if not parts:
        raise DatasetError(f"dataset folder {path} has no usable audio chunks")
    return torch.from_numpy(np.concatenate(parts)), sources, bad


def spectral_metrics(ref: np.ndarray, est: np.ndarray, n_fft: int, hop: int) -> tuple[float, float]:
    """(spectral convergence, log-spectral distance in dB) of ``est`` against ``ref`` audio."""
    window = torch.hann_window(n_fft)

    def mag(y: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        return torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True).abs()

    s_ref, s_est = mag(ref).double(), mag(est).double()  # [F, T]
    sc = float(torch.linalg.norm(s_ref - s_est) / torch.linalg.norm(s_ref).clamp(min=1e-12))
    p_ref, p_est = s_ref.square(), s_est.square()
    floor = LSD_FLOOR * p_ref.max().clamp(min=1e-20)
    d = 10 * torch.log10(p_ref.clamp(min=floor)) - 10 * torch.log10(p_est.clamp(min=floor))
    lsd = float(d.square().mean(dim=0).sqrt().mean())
    return sc, lsd


@torch.no_grad()
def evaluate_codec(
    codec: Codec,
    chunks: torch.Tensor,
    batch_size: int = 16,
    griffin_lim_iters: int = 32,
    max_audio_chunks: int | None = 32,
    files: list[Path] | None = None,
    max_speed_files: int = 2,
) -> dict[str, Any]:
    """All figures for ``chunks`` ``[N, 1, n_mels, C]`` (see the module docstring)."""
    from rvqvae.codec.encoding import encode_file

    model, s = codec.model, codec.settings
    q = model.num_quantizers
    n, c = chunks.shape[0], chunks.shape[-1]
    chunk_seconds = c * s.hop_length / s.sample_rate
    mean_eval = chunks.mean(dim=0)  # [1, n_mels, C]
    train_mean, baseline = codec.mean_train_mel, NORM_L1_BASELINE
    if train_mean is None or tuple(train_mean.shape) != tuple(mean_eval.shape):
        train_mean, baseline = mean_eval, NORM_L1_FALLBACK
        log.warning(
            "%s: no stored training mean of this shape; norm_l1 uses %s", codec.path, baseline
        )
    warning = codec.untrained_levels_warning(range(1, q + 1))
    if warning:
        log.warning("%s", warning)
    abs_err = torch.zeros(q, dtype=torch.float64)  # per number of levels
    base_err = torch.zeros((), dtype=torch.float64)
    eval_base_err = torch.zeros((), dtype=torch.float64)
    all_idx, recons = [], []
    t_enc = t_dec = 0.0
    dev = codec.device
    warm, hw0 = codec.encode_chunks(chunks[:1].to(dev))  # one-time set-up, not timed
    codec.decode_chunks(warm, hw0, c)
    for i in range(0, n, batch_size):
        x = chunks[i : i + batch_size].to(dev)
        (idx, hw), dt = timed(codec.encode_chunks, x, device=dev)
        t_enc += dt
        all_idx.append(idx.cpu())
        for k in range(1, q + 1):
            rec, dt = timed(codec.decode_chunks, idx, hw, c, k, device=dev)
            if k == q:
                t_dec += dt
                recons.append(rec.cpu())
            abs_err[k - 1] += (rec - x).abs().sum().double().cpu()
        base_err += (x - train_mean.to(dev)).abs().sum().double().cpu()
        eval_base_err += (x - mean_eval.to(dev)).abs().sum().double().cpu()
    elements = float(chunks.numel())
    indices = torch.cat(all_idx)  # [N, H*W, Q]
    recon = torch.cat(recons)  # [N, 1, n_mels, C]

    def ratio(err: torch.Tensor, base: torch.Tensor) -> float:
        return float(err / base) if base > 0 else math.nan

    levels = {
        str(k): {
            "mel_l1": float(abs_err[k - 1] / elements),
            "norm_l1": ratio(abs_err[k - 1], base_err),
            "norm_l1_eval_mean": ratio(abs_err[k - 1], eval_base_err),
            "trained": model.trained_levels(k),
        }
        for k in range(1, q + 1)
    }
    audio_seconds = n * chunk_seconds
    result: dict[str, Any] = {
        "num_chunks": n,
        "audio_seconds": audio_seconds,
        "mel_l1": levels[str(q)]["mel_l1"],
        "norm_l1": levels[str(q)]["norm_l1"],
        "norm_l1_baseline": baseline,
        "norm_l1_eval_mean": levels[str(q)]["norm_l1_eval_mean"],
        "quantize_dropout": model.quantize_dropout,
        "levels": levels,
        "codebook": model.get_codebook_utilization(indices),
        "bitrate_bps": codec.bitrate_bps(),
        "num_quantizers": q,
        "codebook_size": model.codebook_size,
    }

    # Audio metrics on evenly spaced chunks: GL(recon) vs GL(original mel).
    m = n if max_audio_chunks is None else max(0, min(n, int(max_audio_chunks)))
    sel = torch.linspace(0, n - 1, m).round().long().unique().tolist() if m else []
    scs, lsds = [], []
    t_gl = 0.0
    for i in sel:
        ref = mel_to_audio(chunks[i, 0], s, n_iter=griffin_lim_iters, seed=0)
        est, dt = timed(mel_to_audio, recon[i, 0], s, n_iter=griffin_lim_iters, seed=0)
        t_gl += dt
        sc, lsd = spectral_metrics(ref, est, s.n_fft, s.hop_length)
        scs.append(sc)
        lsds.append(lsd)
    result["audio"] = {
        "chunks": len(sel),
        "griffin_lim_iters": griffin_lim_iters,
        "spectral_convergence": float(np.mean(scs)) if scs else None,
        "log_spectral_distance_db": float(np.mean(lsds)) if lsds else None,
    }

    speed: dict[str, Any] = {
        "encode_model_x_realtime": audio_seconds / max(t_enc, 1e-9),
        "decode_model_x_realtime": audio_seconds / max(t_dec, 1e-9),
        "decode_with_griffin_lim_x_realtime": None,
        "encode_end_to_end_x_realtime": None,
        "device": str(codec.device),
        "torch_threads": torch.get_num_threads(),
    }
    if sel:
        per_chunk_dec = t_dec / n
        speed["decode_with_griffin_lim_x_realtime"] = (len(sel) * chunk_seconds) / (
            t_gl + per_chunk_dec * len(sel)
        )
    if files:
        secs, t = 0.0, 0.0
        for f in files[:max_speed_files]:
            codes, dt = timed(encode_file, codec, f, batch_size=batch_size, device=dev)
            secs += codes.duration_s
            t += dt
        speed["encode_end_to_end_x_realtime"] = secs / max(t, 1e-9)
        speed["encode_end_to_end_note"] = "decode + resample + streaming mel + model, 50% overlap"
    result["speed"] = speed
    return result


def synthesis_clips(codec: Codec, audios: list[np.ndarray], max_seconds: float = 4.0) -> list[Any]:
    """:class:`rvqvae.vocoder.metrics.Clip` s of the first ``max_seconds`` of each of ``audios``
    (the codec's sample rate): the audio, its analysis mel and the VQ-VAE's reconstruction."""
    from rvqvae.codec.grid import decode_grid, encode_grid
    from rvqvae.vocoder.metrics import Clip

    s = codec.settings
    clips = []
    for audio in audios:
        audio = np.ascontiguousarray(audio[: int(max_seconds * s.sample_rate)], np.float32)
        mel = audio_to_mel(audio, s)
        grid = encode_grid(codec.model, torch.from_numpy(mel))
        recon = decode_grid(codec.model, grid, mel.shape[1], s.n_mels).cpu().numpy()
        clips.append(Clip(audio, mel, recon))
    return clips


def synthesis_comparison(
    codec: Codec,
    audios: list[np.ndarray],
    synthesizer: Synthesizer,
    griffin_lim_iters: int = 32,
    max_seconds: float = 4.0,
    visqol: bool = False,
) -> dict[str, Any]:
    """Griffin-Lim, ``synthesizer`` (when it is a vocoder) and the ideal-phase reference on the
    first ``max_seconds`` of each of ``audios`` (peak-normalised, the codec's sample rate), from
    the analysis mel and from the VQ-VAE's reconstruction (:mod:`rvqvae.vocoder.metrics`); with
    ``visqol`` each row also has ``visqol``, the output's ViSQOL against the original (nearly
    blind to phase: for completeness, the LSD is what judges a vocoder)."""
    from rvqvae.vocoder.metrics import compare_synthesis
    from rvqvae.vocoder.perceptual import visqol as visqol_score

    s = codec.settings
    clips = synthesis_clips(codec, audios, max_seconds)
    synths = {"griffinlim": Synthesizer(s, None, griffin_lim_iters)}
    if synthesizer.kind == "vocoder":
        synths["vocoder"] = synthesizer
    extra = {"visqol": lambda a, b: visqol_score(a, b, s.sample_rate)} if visqol else None
    result = compare_synthesis(clips, synths, s, extra=extra)
    result["vocoder"] = synthesizer.describe()
    return result


def grid_reconstruction(codec: Codec) -> Callable[[np.ndarray], np.ndarray]:
    """Analysis mel ``[n_mels, F]`` -> the codec's whole-file grid reconstruction (as ``encode``
    / ``decode`` make it), for :func:`rvqvae.vocoder.perceptual.perceptual_scores`."""
    from rvqvae.codec.grid import decode_grid, encode_grid

    @torch.no_grad()
    def reconstruct(mel: np.ndarray) -> np.ndarray:
        grid = encode_grid(codec.model, torch.from_numpy(np.asarray(mel, np.float32)))
        return decode_grid(codec.model, grid, mel.shape[1], codec.settings.n_mels).numpy()

    return reconstruct


def format_table(result: dict[str, Any]) -> str:
    """Plain-text summary table of an ``evaluate_codec`` result."""
    rows = [
        ("chunks", f"{result['num_chunks']} ({result['audio_seconds']:.1f} s)"),
        ("mel L1", f"{result['mel_l1']:.4f}"),
        ("norm L1 (train mean)", f"{result['norm_l1']:.4f}"),
        ("norm L1 (eval data's mean)", f"{result['norm_l1_eval_mean']:.4f}"),
    ]
    if result["norm_l1_baseline"] != NORM_L1_BASELINE:
        rows[2] = ("norm L1 (eval mean: no train mean)", f"{result['norm_l1']:.4f}")
    audio = result["audio"]
    if audio["spectral_convergence"] is not None:
        rows.append(("spectral convergence", f"{audio['spectral_convergence']:.4f}"))
        rows.append(("log-spectral dist (dB)", f"{audio['log_spectral_distance_db']:.3f}"))
    for k, v in result["levels"].items():
        note = "" if v.get("trained", True) else "  (out of distribution: not trained)"
        rows.append((f"levels 1..{k}: L1 / norm", f"{v['mel_l1']:.4f} / {v['norm_l1']:.4f}{note}"))
    for level, h in result["codebook"].items():
        rows.append(
            (
                f"{level}: util / ppl / dead",
                f"{h['utilization']:.3f} / {h['perplexity']:.1f} / {h['dead_codes']}",
            )
        )
    rows.append(("bitrate (bit/s)", f"{result['bitrate_bps']:.0f}"))
    sp = result["speed"]
    for key in (
        "encode_model_x_realtime",
        "decode_model_x_realtime",
        "decode_with_griffin_lim_x_realtime",
        "encode_end_to_end_x_realtime",
    ):
        if sp.get(key) is not None:
            rows.append((key.replace("_x_realtime", " (x real time)"), f"{sp[key]:.1f}"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
