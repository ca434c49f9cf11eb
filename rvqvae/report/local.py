"""The local comparison report: ``report.md`` + self-contained ``report.html`` + plot PNGs.

VQ-VAE runs get the runs table, mean ± std across seeds, validation curves, rate-distortion,
the Pareto front of bitrate vs val/norm_l1 (and, for runs with the end-of-training ViSQOL,
ViSQOL vs bitrate and its front), codebook utilization, preview audio and code grid views;
prior runs (``kind: prior``) get their own sections: the Priors table, mean ± std across
seeds, val/bits_per_s curves, reconstruction vs prior bits/s, and sample audio with code grid
views; vocoder runs (``kind: vocoder``) a table of Griffin-Lim vs vocoder vs ideal phase and
side-by-side audio.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from dataclasses import dataclass
from pathlib import Path

from rvqvae.atomic import atomic_write_text
from rvqvae.report.aggregate import (
    common_overrides,
    fmt_bitrate,
    fmt_float,
    has_perceptual,
    runs_table,
    seed_groups,
    seed_table,
    swept_keys,
)
from rvqvae.report.pareto import (
    DISTORTION_KEY,
    PERCEPTUAL_KEY,
    RATE_KEY,
    pareto_front,
    points,
)
from rvqvae.report.plots import (
    plot_codebook,
    plot_curves,
    plot_pareto,
    plot_rate_distortion,
    plot_recon_vs_prior_rate,
)
from rvqvae.report.priors import (
    PRIOR_NOTE,
    WINDOW_NOTE,
    prior_seed_table,
    prior_table,
    prior_window_table,
)
from rvqvae.report.render import (
    Block,
    Bullets,
    Image,
    Section,
    TableBlock,
    Text,
    data_uri,
    render_html,
    render_markdown,
)
from rvqvae.report.runs import RunRecord, natural_key, relpath
from rvqvae.report.vocoders import VOCODER_NOTE, vocoder_table

CURVES_PNG = "report_curves.png"
RATE_DISTORTION_PNG = "report_rate_distortion.png"
PARETO_PNG = "report_pareto.png"
RATE_VISQOL_PNG = "report_rate_visqol.png"
PARETO_VISQOL_PNG = "report_pareto_visqol.png"
CODEBOOK_PNG = "report_codebook.png"
PRIOR_CURVES_PNG = "report_prior_curves.png"
PRIOR_RATE_PNG = "report_prior_rate.png"
_MAX_EMBED_BYTES = 2_000_000  # preview PNGs larger than this are linked, not embedded

_LEVEL_NOTE = "`Lk util/ppl/dead` = level k codebook utilization / perplexity / dead codes."
HEARING_NOTE = (
    "Which metric hears what: `val/visqol` is ViSQOL (audio mode, 48 kHz; MOS-LQO, an identical "
    "file scores 4.73) of the reconstruction against the same synthesis of the analysis mel, so "
    "the vocoder cancels out; `val/visqol_ceiling` scores that synthesis against the raw "
    "original. ViSQOL judges magnitude and is nearly blind to phase (Griffin-Lim of the analysis "
    "mel scores 4.72, random phase 4.3-4.6). `val/lsd` is the log-spectral distance of the "
    "reconstruction's audio to the original, mean over STFT sizes 256-8192: the sizes other than "
    "the analysis one (2048) also hear phase. `val/norm_l1` is a mel L1 no listener uses. "
    "Scored at the end of training on a few validation files (`evaluation.perceptual`)."
)
_SEED_NOTE = (
    "Mean ± sample standard deviation (ddof=1) over the completed runs of each configuration; "
    "`n` = completed/total."
)


def _clip_groups(run: RunRecord) -> list[tuple[str, list[Path]]]:
    """Final preview WAVs grouped by index: [("0", [0_original.wav, 0_recon.wav]), ...];
    a prior's ``sample_K.wav`` is clip K."""
    pairs: dict[str, list[Path]] = {}
    for wav in run.preview_audio:
        m = re.match(r"(?:sample_)?(\d+)(?:_|$)", wav.stem)
        pairs.setdefault(m.group(1) if m else wav.stem, []).append(wav)
    return sorted(pairs.items(), key=lambda kv: natural_key(kv[0]))


def _embed_or_link(image: Path, out_dir: Path, alt: str) -> str:
    if image.stat().st_size <= _MAX_EMBED_BYTES:
        return f'<img alt="{html.escape(alt)}" src="{data_uri(image.read_bytes())}">'
    return f'<a href="{html.escape(relpath(image, out_dir))}">{html.escape(image.name)}</a>'


@dataclass
class Previews:
    """Each run's final preview audio (players in HTML, links in Markdown) and images: a
    VQ-VAE's ``mels.png`` and code grid views of its validation files (``grid_K.png``), a
    prior's ``sample_K.png`` and code grid view ``sample_K_grid.png`` next to ``sample_K.wav``."""

    runs: list[RunRecord]

    def markdown(self, out_dir: Path) -> list[str]:
        md = []
        for run in self.runs:
            groups = _clip_groups(run)
            if not groups and run.preview_image is None and not run.preview_grids:
                md.append(f"- **{run.label}**: no previews")
                continue
            md.append(f"- **{run.label}**")
            for clip, wavs in groups:
                links = [f"[{w.stem}]({relpath(w, out_dir)})" for w in wavs]
                links += [f"[{p.name}]({relpath(p, out_dir)})" for p in _sample_pngs(wavs)]
                md.append(f"  - clip {clip}: {' · '.join(links)}")
            if run.preview_image is not None:
                md.append(f"  - [mels.png]({relpath(run.preview_image, out_dir)})")
            if run.preview_grids:
                links = [f"[{p.name}]({relpath(p, out_dir)})" for p in run.preview_grids]
                md.append(f"  - code grids of validation files: {' · '.join(links)}")
        return md

    def html(self, out_dir: Path) -> list[str]:
        esc = html.escape
        body = []
        for run in self.runs:
            body.append(f"<h3>{esc(run.label)}</h3>")
            groups = _clip_groups(run)
            if not groups and run.preview_image is None and not run.preview_grids:
                body.append("<p>no previews</p>")
            for clip, wavs in groups:
                players = []
                for wav in wavs:
                    src = esc(relpath(wav, out_dir))
                    players.append(
                        f'<span class="clip">{esc(wav.stem)}<br>'
                        f'<audio controls preload="none" src="{src}"></audio></span>'
                    )
                pngs = [_embed_or_link(p, out_dir, p.stem) for p in _sample_pngs(wavs)]
                body.append(f"<div>clip {esc(clip)}: {''.join(players + pngs)}</div>")
            if run.preview_image is not None:
                body.append(_embed_or_link(run.preview_image, out_dir, f"mels {run.name}"))
            if run.preview_grids:
                body.append("<p>code grids of validation files (final model)</p>")
                body += [
                    _embed_or_link(p, out_dir, f"{p.stem} {run.name}") for p in run.preview_grids
                ]
        return body


def _sample_pngs(wavs: list[Path]) -> list[Path]:
    """A prior sample's spectrogram and code grid view (``sample_K.png``, ``sample_K_grid.png``
    next to ``sample_K.wav``)."""
    samples = [w for w in wavs if w.stem.startswith("sample_")]
    pngs = [w.parent / f"{w.stem}{end}" for w in samples for end in (".png", "_grid.png")]
    return [p for p in pngs if p.is_file()]


def _count_line(runs: list[RunRecord]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{len(runs)} runs ({parts})"


def _swept_sentences(runs: list[RunRecord], swept: list[str]) -> list[str]:
    out = []
    if swept:
        out.append("Swept: " + ", ".join(f"`{k}`" for k in swept) + ".")
    shared = common_overrides(runs)
    if shared:
        out.append("Common overrides: " + " ".join(f"`{o}`" for o in shared) + ".")
    return out


def _pareto_section(runs: list[RunRecord], y_key: str = DISTORTION_KEY) -> Section:
    front = pareto_front(runs, RATE_KEY, y_key)
    drawn = points(runs, RATE_KEY, y_key)
    better = "fewer bit/s, higher ViSQOL" if y_key == PERCEPTUAL_KEY else "lower is better for both"
    text = (
        f"Runs that no other completed run beats on both `{RATE_KEY}` and `{y_key}` "
        f"({better}): {len(front)} of {len(drawn)} runs with both values."
        if drawn
        else f"No run has both `{RATE_KEY}` and `{y_key}`."
    )
    items = [
        f"**{p.run.label}**: {fmt_bitrate(p.x)} bit/s, {y_key} {fmt_float(p.y)}" for p in front
    ]
    alt = f"Pareto front: final {y_key} vs bitrate"
    png = PARETO_PNG if y_key == DISTORTION_KEY else PARETO_VISQOL_PNG
    blocks: list[Block] = [Text(text), Image(png, alt, plot_pareto(runs, y_key))]
    if items:
        blocks.append(Bullets(items))
    title = "Pareto front" if y_key == DISTORTION_KEY else "Pareto front by ear (ViSQOL)"
    return Section(title, blocks)


def _perceptual_sections(runs: list[RunRecord], groups: list) -> list[Section]:
    """ViSQOL vs bitrate and its Pareto front, with which metric hears what (runs that have
    ``val/visqol``: ``evaluation.perceptual`` on)."""
    if not has_perceptual(runs):
        return []
    rate = plot_rate_distortion(runs, y_key=PERCEPTUAL_KEY, groups=groups)
    alt = "final val/visqol vs bitrate"
    return [
        Section(
            "What it sounds like",
            [Text(HEARING_NOTE), Image(RATE_VISQOL_PNG, alt, rate)],
        ),
        _pareto_section(runs, PERCEPTUAL_KEY),
    ]


def vqvae_sections(runs: list[RunRecord]) -> list[Section]:
    """Runs, across seeds, curves, rate-distortion, Pareto front, codebook, previews."""
    table = runs_table(runs, swept_keys(runs))
    classes = ["failed" if r.status == "failed" else "" for r in runs]
    sections = [Section("Runs", [TableBlock(table, classes), Text(_LEVEL_NOTE)])]
    groups = seed_groups(runs)
    if groups:
        sections.append(Section("Across seeds", [Text(_SEED_NOTE), TableBlock(seed_table(groups))]))
    rate = plot_rate_distortion(runs, groups=groups)
    sections += [
        Section(
            "Validation curves", [Image(CURVES_PNG, "val/recon_l1 per epoch", plot_curves(runs))]
        ),
        Section(
            "Rate-distortion", [Image(RATE_DISTORTION_PNG, "final val/norm_l1 vs bitrate", rate)]
        ),
        _pareto_section(runs),
        *_perceptual_sections(runs, groups),
        Section(
            "Codebook utilization",
            [Image(CODEBOOK_PNG, "utilization per level", plot_codebook(runs))],
        ),
        Section("Final previews", [Previews(runs)]),
    ]
    return sections


def prior_sections(priors: list[RunRecord]) -> list[Section]:
    """Priors table, across seeds, val/bits_per_s curves, recon vs bits/s, samples."""
    swept = swept_keys(priors)
    classes = ["failed" if r.status == "failed" else "" for r in priors]
    sentences = _swept_sentences(priors, swept)
    blocks: list[Block] = [Text(" ".join(sentences))] if sentences else []
    blocks += [TableBlock(prior_table(priors, swept), classes), Text(PRIOR_NOTE)]
    if any(r.metric("wfd_prior") is not None for r in priors):
        blocks += [TableBlock(prior_window_table(priors), classes), Text(WINDOW_NOTE)]
    sections = [Section("Priors", blocks)]
    groups = seed_groups(priors)
    if groups:
        sections.append(
            Section("Priors across seeds", [Text(_SEED_NOTE), TableBlock(prior_seed_table(groups))])
        )
    curves = plot_curves(priors, key="val/bits_per_s")
    rate = plot_recon_vs_prior_rate(priors)
    sections += [
        Section(
            "Prior validation curves",
            [Image(PRIOR_CURVES_PNG, "prior val/bits_per_s per epoch", curves)],
        ),
        Section(
            "Reconstruction vs prior bits/s",
            [
                Text(
                    "One point per prior run: its VQ-VAE's final `val/norm_l1` (`vqvae_norm_l1`)"
                    " against the prior's `val/bits_per_s`, labelled levels x codebook size;"
                    " the hollow marker is the VQ-VAE's raw bits/s."
                ),
                Image(PRIOR_RATE_PNG, "VQ-VAE val/norm_l1 vs prior val/bits_per_s", rate),
            ],
        ),
        Section("Prior samples", [Previews(priors)]),
    ]
    return sections


def vocoder_sections(vocoders: list[RunRecord]) -> list[Section]:
    """Vocoders table (Griffin-Lim vs vocoder vs ideal phase) and the side-by-side audio."""
    classes = ["failed" if r.status == "failed" else "" for r in vocoders]
    return [
        Section("Vocoders", [TableBlock(vocoder_table(vocoders), classes), Text(VOCODER_NOTE)]),
        Section(
            "Vocoder audio side by side",
            [
                Text(
                    "Per validation file, from the VQ-VAE's reconstruction: the original, "
                    "Griffin-Lim and the vocoder (`K_original`, `K_griffinlim`, `K_vocoder`)."
                ),
                Previews(vocoders),
            ],
        ),
    ]


def write_local_report(
    runs: list[RunRecord], out_dir: Path, title: str = "RVQ-VAE comparison"
) -> tuple[Path, Path]:
    """Write report.md, report.html and the plot PNGs into ``out_dir``.

    VQ-VAE, prior and vocoder runs get their own sections (a folder may hold any of them).
    Returns (markdown path, html path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vqvaes = [r for r in runs if not r.is_prior and not r.is_vocoder]
    priors = [r for r in runs if r.is_prior]
    vocoders = [r for r in runs if r.is_vocoder]

    generated = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    intro = [f"Generated {generated} from {_count_line(runs)}."]
    if vqvaes and priors:
        intro.append(f"VQ-VAE runs: {len(vqvaes)}; prior runs: {len(priors)} (see Priors).")
    sections: list[Section] = []
    if vqvaes:
        intro += _swept_sentences(vqvaes, swept_keys(vqvaes))
        sections += vqvae_sections(vqvaes)
    if priors:
        sections += prior_sections(priors)
    if vocoders:
        sections += vocoder_sections(vocoders)
    for section in sections:
        for image in section.images():
            (out_dir / image.name).write_bytes(image.png)

    md_path = out_dir / "report.md"
    atomic_write_text(md_path, render_markdown(title, " ".join(intro), sections, out_dir))
    html_path = out_dir / "report.html"
    atomic_write_text(html_path, render_html(title, " ".join(intro), sections, out_dir))
    return md_path, html_path
