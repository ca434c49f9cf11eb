"""A one-line bar for folder loops (files loaded, encoded, decoded, evaluated).

The base layer's console helper: ``rvqvae.data`` and the codec use it without importing the
console module (which sits above ``rvqvae.training`` and imports Lightning).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a one-line bar on a terminal (nothing when stderr is not one)."""
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, leave=False, disable=None, dynamic_ncols=True)
