"""Report building blocks rendered twice: to Markdown and to self-contained HTML."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rvqvae.report.aggregate import Table

CSS = """
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


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI (for images embedded in report.html)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def inline_markup(text: str) -> str:
    """Escape text and turn Markdown `code` and **bold** spans into <code> and <b>."""
    out = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


class Block(Protocol):
    """Anything a section holds: its Markdown lines and its HTML lines."""

    def markdown(self, out_dir: Path) -> list[str]: ...

    def html(self, out_dir: Path) -> list[str]: ...


@dataclass
class Text:
    """A paragraph; `code` spans become <code> in HTML."""

    text: str

    def markdown(self, out_dir: Path) -> list[str]:
        return [self.text]

    def html(self, out_dir: Path) -> list[str]:
        return [f"<p>{inline_markup(self.text)}</p>"]


@dataclass
class TableBlock:
    """A table; ``row_classes`` style HTML rows (``failed``)."""

    table: Table
    row_classes: list[str] | None = None

    def markdown(self, out_dir: Path) -> list[str]:
        return [table_markdown(self.table)]

    def html(self, out_dir: Path) -> list[str]:
        return [table_html(self.table, self.row_classes)]


@dataclass
class Image:
    """A plot: linked PNG file ``name`` in Markdown, embedded ``png`` bytes in HTML."""

    name: str
    alt: str
    png: bytes

    def markdown(self, out_dir: Path) -> list[str]:
        return [f"![{self.alt}]({self.name})"]

    def html(self, out_dir: Path) -> list[str]:
        return [f'<img alt="{html.escape(self.alt)}" src="{data_uri(self.png)}">']


@dataclass
class Bullets:
    """A bullet list of Markdown-formatted items."""

    items: list[str]

    def markdown(self, out_dir: Path) -> list[str]:
        return [f"- {item}" for item in self.items]

    def html(self, out_dir: Path) -> list[str]:
        return ["<ul>", *(f"<li>{inline_markup(i)}</li>" for i in self.items), "</ul>"]


@dataclass
class Section:
    """A ``##`` heading and its blocks (a blank line after each block in Markdown)."""

    heading: str
    blocks: list[Block] = field(default_factory=list)

    def markdown(self, out_dir: Path) -> list[str]:
        lines = [f"## {self.heading}", ""]
        for block in self.blocks:
            lines += [*block.markdown(out_dir), ""]
        return lines

    def html(self, out_dir: Path) -> list[str]:
        lines = [f"<h2>{html.escape(self.heading)}</h2>"]
        for block in self.blocks:
            lines += block.html(out_dir)
        return lines

    def images(self) -> list[Image]:
        """The section's plots (written next to the report)."""
        return [b for b in self.blocks if isinstance(b, Image)]


def render_markdown(title: str, intro: str, sections: list[Section], out_dir: Path) -> str:
    """report.md: title, intro paragraph, sections."""
    lines = [f"# {title}", "", intro, ""]
    for section in sections:
        lines += section.markdown(out_dir)
    return "\n".join(lines)


def render_html(title: str, intro: str, sections: list[Section], out_dir: Path) -> str:
    """report.html: one self-contained page (CSS inline, plots embedded, audio linked)."""
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>", f"<p>{inline_markup(intro)}</p>"]
    for section in sections:
        body += section.html(out_dir)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
