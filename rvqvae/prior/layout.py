"""Slots of a code-grid column: the fixed order in which a prior reads rows and levels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class GridLayout:
    """Slot order of a column: slot ``s`` holds (row, level) ``slot_row[s], slot_level[s]``."""

    rows: int
    levels: int
    codebook_size: int
    slot_order: str = "level_major"

    def __post_init__(self) -> None:
        if self.slot_order not in ("level_major", "row_major"):
            raise ValueError(
                f"slot_order must be level_major or row_major, got {self.slot_order!r}"
            )

    @property
    def slots(self) -> int:
        return self.rows * self.levels

    def slot_index(self) -> Tensor:
        """``[rows, levels]`` -> slot number."""
        r, q = torch.meshgrid(torch.arange(self.rows), torch.arange(self.levels), indexing="ij")
        return q * self.rows + r if self.slot_order == "level_major" else r * self.levels + q

    def slot_level(self) -> Tensor:
        """Level of every slot ``[S]``."""
        levels = torch.empty(self.slots, dtype=torch.long)
        levels[self.slot_index().reshape(-1)] = torch.arange(self.levels).repeat(self.rows)
        return levels

    def to_columns(self, grid: Tensor) -> Tensor:
        """Grid ``[..., rows, cols, levels]`` -> columns ``[..., cols, S]``."""
        *lead, rows, cols, levels = grid.shape
        flat = grid.movedim(-2, -3).reshape(*lead, cols, rows * levels)  # slot r * Q + q
        order = torch.argsort(self.slot_index().reshape(-1))  # slot s <- (r * Q + q)
        return flat[..., order]

    def to_grid(self, columns: Tensor) -> Tensor:
        """Columns ``[..., cols, S]`` -> grid ``[..., rows, cols, levels]``."""
        *lead, cols, _ = columns.shape
        flat = columns[..., self.slot_index().reshape(-1)]  # (r * Q + q) <- slot
        return flat.reshape(*lead, cols, self.rows, self.levels).movedim(-3, -2)
