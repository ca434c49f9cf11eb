"""The local comparison report: ``report.md`` + self-contained ``report.html`` + plot PNGs."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import re
from pathlib import Path

from rvqvae.report.aggregate import (
    Table,
    common_overrides,
    runs_table,
    seed_groups,
    seed_table,
    swept_keys,
)
from rvqvae.report.plots import plot_codebook, plot_curves, plot_rate_distortion
from rvqvae.report.runs import RunRecord, natural_key, relpath

CURVES_PNG = "report_curves.png"
RATE_DISTORTION_PNG = "report_rate_distortion.png"
CODEBOOK_PNG = "report_codebook.png"
_MAX_EMBED_BYTES = 2_000_000  # preview mels.png larger than this are linked, not embedded

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr.failed td { background: #fff0f0; }
img { max-width: 100%; }
.clip { display: inline-block; margin: 0 1.5em 0.5em 0; }
code { background: #f6f6f6; padding: 0 3px; }
"""


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(_md_cell(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def table_html(table: Table, row_classes: list[str] | None = None) -> str:
    """An HTML table (cells escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    out = ["<table>", f"<tr>{head}</tr>"]
    for i, row in enumerate(table.rows):
        cls = row_classes[i] if row_classes and row_classes[i] else ""
        attr = f' class="{cls}"' if cls else ""
        out.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _clip_pairs(run: RunRecord) -> list[tuple[str, list[Path]]]:
    """Final preview clips grouped by index: [("0", [0_original.wav, 0_recon.wav]), ...]."""
    pairs: dict[str, list[Path]] = {}
    for wav in run.preview_audio:
        m = re.match(r"(\d+)_", wav.name)
        pairs.setdefault(m.group(1) if m else wav.stem, []).append(wav)
    return sorted(pairs.items(), key=lambda kv: natural_key(kv[0]))


def _summary_line(runs: list[RunRecord]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{len(runs)} runs ({parts})"


def write_local_report(
    runs: list[RunRecord], out_dir: Path, title: str = "RVQ-VAE comparison"
) -> tuple[Path, Path]:
    """Write report.md, report.html and the three plot PNGs into ``out_dir``.

    Returns (markdown path, html path).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    swept = swept_keys(runs)
    shared = common_overrides(runs)
    table = runs_table(runs, swept)
    groups = seed_groups(runs)
    grouped = seed_table(groups) if groups else None
    plots = {
        CURVES_PNG: ("Validation curves", "val/recon_l1 per epoch", plot_curves(runs)),
        RATE_DISTORTION_PNG: (
            "Rate-distortion",
            "final val/norm_l1 vs bitrate",
            plot_rate_distortion(runs, groups=groups),
        ),
        CODEBOOK_PNG: ("Codebook utilization", "utilization per level", plot_codebook(runs)),
    }
    for name, (_, _, png) in plots.items():
        (out_dir / name).write_bytes(png)

    generated = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    intro = [f"Generated {generated} from {_summary_line(runs)}."]
    if swept:
        intro.append("Swept: " + ", ".join(f"`{k}`" for k in swept) + ".")
    if shared:
        intro.append("Common overrides: " + " ".join(f"`{o}`" for o in shared) + ".")
    level_note = "`Lk util/ppl/dead` = level k codebook utilization / perplexity / dead codes."

    md_path = out_dir / "report.md"
    md_path.write_text(
        _markdown(runs, out_dir, title, intro, level_note, table, grouped, plots), encoding="utf-8"
    )
    html_path = out_dir / "report.html"
    html_path.write_text(
        _html(runs, out_dir, title, intro, level_note, table, grouped, plots), encoding="utf-8"
    )
    return md_path, html_path


_SEED_NOTE = (
    "Mean ± sample standard deviation (ddof=1) over the completed runs of each configuration; "
    "`n` = completed/total."
)


def _markdown(runs, out_dir, title, intro, level_note, table, grouped, plots) -> str:
    md = [f"# {title}", "", " ".join(intro), "", "## Runs", "", table_markdown(table), ""]
    md += [level_note, ""]
    if grouped is not None:
        md += ["## Across seeds", "", _SEED_NOTE, "", table_markdown(grouped), ""]
    for name, (heading, alt, _) in plots.items():
        md += [f"## {heading}", "", f"![{alt}]({name})", ""]
    md += ["## Final previews", ""]
    for run in runs:
        pairs = _clip_pairs(run)
        if not pairs and run.preview_image is None:
            md.append(f"- **{run.label}**: no previews")
            continue
        md.append(f"- **{run.label}**")
        for clip, wavs in pairs:
            links = " · ".join(f"[{w.stem}]({relpath(w, out_dir)})" for w in wavs)
            md.append(f"  - clip {clip}: {links}")
        if run.preview_image is not None:
            md.append(f"  - [mels.png]({relpath(run.preview_image, out_dir)})")
    md.append("")
    return "\n".join(md)


def _html(runs, out_dir, title, intro, level_note, table, grouped, plots) -> str:
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>", f"<p>{_inline_code(' '.join(intro))}</p>", "<h2>Runs</h2>"]
    classes = ["failed" if r.status == "failed" else "" for r in runs]
    body += [table_html(table, classes), f"<p>{_inline_code(level_note)}</p>"]
    if grouped is not None:
        body += ["<h2>Across seeds</h2>", f"<p>{_inline_code(_SEED_NOTE)}</p>"]
        body.append(table_html(grouped))
    for heading, alt, png in plots.values():
        body += [f"<h2>{esc(heading)}</h2>", f'<img alt="{esc(alt)}" src="{_data_uri(png)}">']
    body.append("<h2>Final previews</h2>")
    for run in runs:
        body.append(f"<h3>{esc(run.label)}</h3>")
        pairs = _clip_pairs(run)
        if not pairs and run.preview_image is None:
            body.append("<p>no previews</p>")
        for clip, wavs in pairs:
            players = []
            for wav in wavs:
                src = esc(relpath(wav, out_dir))
                players.append(
                    f'<span class="clip">{esc(wav.stem)}<br>'
                    f'<audio controls preload="none" src="{src}"></audio></span>'
                )
            body.append(f"<div>clip {esc(clip)}: {''.join(players)}</div>")
        image = run.preview_image
        if image is not None:
            if image.stat().st_size <= _MAX_EMBED_BYTES:
                uri = _data_uri(image.read_bytes())
                body.append(f'<img alt="mels {esc(run.name)}" src="{uri}">')
            else:
                body.append(f'<a href="{esc(relpath(image, out_dir))}">mels.png</a>')
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _inline_code(text: str) -> str:
    """Escape text and turn Markdown `code` spans into <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))
