"""The Edit tab: the operations of :mod:`rvqvae.editing` on a run's code grids, before and
after."""

from __future__ import annotations

from typing import Any

from rvqvae.studio.catalog import Catalog
from rvqvae.studio.engine import Engine


def build_edit_tab(catalog: Catalog, engine: Engine) -> Any:
    """The tab's components and events (inside an open ``gr.Tab``)."""
    import gradio as gr

    return gr.Markdown("Editing arrives with rvqvae.editing.")
