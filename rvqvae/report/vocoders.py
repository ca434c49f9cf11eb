"""Vocoder runs (``python -m rvqvae.train_vocoder``): Griffin-Lim vs the vocoder vs the
ideal-phase reference, as measured at the end of each run (``synthesis/...`` keys of its
summary.json, :func:`rvqvae.vocoder.metrics.flat_synthesis`)."""

from __future__ import annotations

from rvqvae.report.aggregate import MISSING, Table, fmt_duration, fmt_float, fmt_status
from rvqvae.report.runs import RunRecord, short_run_path

VOCODER_NOTE = (
    "Each vocoder run's own evaluation on validation files of its VQ-VAE (first seconds of "
    "each), from the VQ-VAE's reconstruction (`recon`: what `decode` and `generate` "
    "synthesise) and from the analysis mel (`mel`). `LSD n` = log-spectral distance to the "
    "original at STFT size n for Griffin-Lim / vocoder / ideal phase (the mel's magnitude with "
    "the original's phase: the best any vocoder can do from that mel); sizes other than the "
    "analysis one hear phase. `gap n` = the share of the Griffin-Lim -> ideal-phase gap the "
    "vocoder closes (1 = ideal, < 0 = worse than Griffin-Lim). `mel cons.` = L1 between the "
    "output's log-mel and the mel it was made from (vocoder / Griffin-Lim). `x RT` = synthesis "
    "speed in real time (vocoder / Griffin-Lim, measured in the same run). `ViSQOL` of the "
    "output against the original is shown for completeness: it is nearly blind to phase, so "
    "it judges the magnitude (e.g. the codec's noise floor), not the phase."
)
_SIZES = ("256", "8192")
_SOURCES = ("recon", "mel")


_TRIO = ("griffinlim", "vocoder", "ideal_phase")
_PAIR = ("vocoder", "griffinlim")


def _joined(run: RunRecord, source: str, names: tuple[str, ...], suffix: str, digits: int) -> str:
    """``a / b / c`` of ``synthesis/{source}/{name}/{suffix}`` over ``names``."""
    values = [run.metric(f"synthesis/{source}/{name}/{suffix}") for name in names]
    if all(v is None for v in values):
        return MISSING
    return " / ".join(fmt_float(v, digits) for v in values)


def vocoder_table(runs: list[RunRecord]) -> Table:
    """One row per vocoder run: its VQ-VAE and settings, val/loss, and the synthesis figures."""
    headers = ["run", "VQ-VAE", "input", "size", "adversarial", "steps", "val/loss"]
    for source in _SOURCES:
        headers += [f"{source}: LSD {n} GL / voc / ideal" for n in _SIZES]
        headers += [f"{source}: gap {n}" for n in _SIZES]
        headers += [f"{source}: mel cons. voc / GL", f"{source}: ViSQOL voc / GL"]
        headers += [f"{source}: x RT voc / GL"]
    headers += ["train time", "status"]
    table = Table(headers)
    for run in runs:
        s = run.summary
        row = [
            run.label,
            short_run_path(str(s.get("vqvae_run_dir") or s.get("vqvae_checkpoint") or MISSING)),
            str(s.get("input") or MISSING),
            str(s.get("size") or MISSING),
            MISSING if s.get("adversarial") is None else str(bool(s["adversarial"])).lower(),
            fmt_float(run.metric("global_step"), 0),
            fmt_float(run.metric("val/loss"), 4),
        ]
        for source in _SOURCES:
            row += [_joined(run, source, _TRIO, f"lsd_{n}", 3) for n in _SIZES]
            row += [fmt_float(run.metric(f"synthesis/{source}/gap_closed_{n}"), 2) for n in _SIZES]
            row += [
                _joined(run, source, _PAIR, "mel_consistency", 3),
                _joined(run, source, _PAIR, "visqol", 2),
                _joined(run, source, _PAIR, "x_realtime", 0),
            ]
        row += [fmt_duration(run.train_seconds()), fmt_status(run)]
        table.rows.append(row)
    return table
