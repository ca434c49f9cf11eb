"""The datamodule's ``Dataset`` and ``collate_fn`` pieces that are not augmentation: an index
dataset, a fixed-tensor batcher (validation), the device path's index-only collate, and whether
the data fits on a device."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset


class IndexDataset(Dataset):
    """Yields ``0 .. length-1``; the collate function turns index lists into batches."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> int:
        return i


class TensorBatcher:
    """``collate_fn`` indexing a fixed tensor (validation)."""

    def __init__(self, chunks: Tensor) -> None:
        self.chunks = chunks

    def to(self, device: torch.device | str) -> TensorBatcher:
        """Moves the chunks to ``device``; returns self (as ``ChunkBatcher.to``)."""
        self.chunks = self.chunks.to(device)
        return self

    def __call__(self, indices: list[int] | Tensor) -> Tensor:
        return self.chunks[torch.as_tensor(indices, dtype=torch.long, device=self.chunks.device)]


class IndexCollate:
    """``collate_fn`` of the device path: ``{key: LongTensor [B]}``, no data."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, indices: list[int]) -> dict[str, Tensor]:
        return {self.key: torch.as_tensor(indices, dtype=torch.long)}


AUGMENT_ON = ("auto", "loader", "device")


def fits_on_device(tensors: list[Tensor | None], device: torch.device, share: int = 4) -> bool:
    """True on a CUDA ``device`` with at least ``share`` x the tensors' bytes free."""
    if device.type != "cuda":
        return False
    held = sum(t.numel() * t.element_size() for t in tensors if t is not None)
    free, _ = torch.cuda.mem_get_info(device)
    return held * share <= free
