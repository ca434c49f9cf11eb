"""The code grid view of the editing API: the renderer lives in :mod:`rvqvae.codec.grid_view`
(one implementation, also used by the training previews and the prior's samples)."""

from rvqvae.codec.grid_view import code_usage, save_grid_view

__all__ = ["code_usage", "save_grid_view"]
