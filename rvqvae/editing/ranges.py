"""Time ranges in seconds snapped to code-grid columns, and the editing errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rvqvae.codec.format import CodecError
from rvqvae.data.mel import MelSettings
from rvqvae.models.vqvae import DOWNSAMPLE


class EditError(CodecError):
    """An edit that cannot be done as asked; the message names the file or setting (one line)."""


def column_seconds(settings: MelSettings) -> float:
    """Seconds of audio per grid column (``16 * hop_length / sample_rate``)."""
    return DOWNSAMPLE * settings.hop_length / settings.sample_rate


@dataclass(frozen=True)
class ColumnRange:
    """Columns ``[start, end)`` of a grid, with the seconds they span."""

    start: int
    end: int
    column_s: float

    @property
    def columns(self) -> int:
        return self.end - self.start

    @property
    def seconds(self) -> tuple[float, float]:
        return (self.start * self.column_s, self.end * self.column_s)

    def describe(self) -> str:
        a, b = self.seconds
        return f"{a:.3f}-{b:.3f} s (columns {self.start}-{self.end})"

    def to_dict(self) -> dict[str, Any]:
        a, b = self.seconds
        return {"start_s": a, "end_s": b, "start_column": self.start, "end_column": self.end}


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EditError(f"{name} must be a number of seconds or null, got {value!r}")
    return float(value)


def snap_range(
    spec: Any, columns: int, column_s: float, name: str = "range", where: str = "the input"
) -> ColumnRange:
    """``[start_s, end_s]`` (either may be null: the file's start / end; ``None``: the whole
    file) -> the nearest column boundaries. A range outside ``[0, columns]`` or with no column
    left after snapping is refused in one line naming ``name`` and ``where``."""
    if spec is None:
        return ColumnRange(0, columns, column_s)
    if not isinstance(spec, list | tuple) or len(spec) != 2:
        raise EditError(f"{name} must be [start_s, end_s] (null for an open end), got {spec!r}")
    a, b = _seconds(spec[0], f"{name}[0]"), _seconds(spec[1], f"{name}[1]")
    total = columns * column_s
    start = 0 if a is None else round(a / column_s)
    end = columns if b is None else round(b / column_s)
    if start < 0 or end > columns:
        raise EditError(
            f"{name}={list(spec)} is outside {where} (0-{total:.3f} s, {columns} columns of "
            f"{column_s:.3f} s): give seconds within it"
        )
    if end <= start:
        raise EditError(
            f"{name}={list(spec)} holds no whole column after snapping to columns of "
            f"{column_s:.3f} s (got columns {start}-{end}): widen it"
        )
    return ColumnRange(start, end, column_s)


def check_level(value: Any, levels: int, name: str = "level", lowest: int = 1) -> int:
    """``value`` as an integer in ``[lowest, levels - 1]`` (a split point between levels), else
    one line naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value < levels:
        raise EditError(
            f"{name} must be an integer in [{lowest}, {levels - 1}] for codes with {levels} "
            f"levels, got {value!r}"
        )
    return value
