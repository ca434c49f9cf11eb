"""Starting the studio: its folders, engine, page and server (loopback, no share, no SSR)."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rvqvae.studio.catalog import Catalog
from rvqvae.studio.engine import Engine, Settings
from rvqvae.studio.safety import Roots, StudioError

log = logging.getLogger("rvqvae.studio")


@dataclass
class Studio:
    """A launched page: its URL, the gradio app, the engine and how long it took to start."""

    url: str
    demo: Any
    engine: Engine
    catalog: Catalog
    startup_s: float

    def close(self) -> None:
        self.demo.close()


def _folders(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    return [str(Path(str(v)).expanduser()) for v in items if str(v).strip()]


def start(cfg: dict[str, Any], output: str, block: bool = False, warm: bool = True) -> Studio:
    """Build and launch the page of ``cfg`` (``conf/studio.yaml`` keys) writing into ``output``;
    ``block`` serves until interrupted, else returns at once (tests, benchmarks)."""
    started = time.perf_counter()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    runs = _folders(cfg.get("runs"))
    if not runs:
        raise StudioError("runs=: give at least one folder of run folders")
    for folder in runs:
        if not Path(folder).is_dir():
            raise StudioError(f"runs={folder}: no such folder")
    data = _folders(cfg.get("data"))
    out = Path(cfg.get("output") or output).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(runs)
    roots = Roots.of([*runs, *data, out])
    settings = Settings(
        output=out,
        cache_dir=cfg.get("cache_dir"),
        griffin_lim_iters=int(cfg.get("griffin_lim_iters", 32)),
        device=str(cfg.get("device") or "cpu"),
        max_upload_bytes=int(float(cfg.get("max_upload_mb", 50)) * 1e6),
        max_seconds=float(cfg.get("max_seconds", 60.0)),
        data=bool(data),
    )
    engine = Engine(catalog, roots, settings)
    try:
        import gradio  # noqa: F401  (after GRADIO_ANALYTICS_ENABLED is set)
    except ImportError:
        raise StudioError("gradio is not installed: pip install -e '.[studio]'") from None

    from rvqvae.studio.app import build_app, output_folders

    demo = build_app(catalog, engine, int(cfg.get("concurrency", 2)))
    port = int(cfg.get("port") or 0) or None
    _, url, _ = demo.launch(
        server_name=str(cfg.get("host") or "127.0.0.1"),
        server_port=port,
        share=bool(cfg.get("share", False)),
        ssr_mode=False,
        allowed_paths=output_folders(engine),
        max_file_size=f"{int(float(cfg.get('max_upload_mb', 50)))}mb",
        inbrowser=bool(cfg.get("open_browser", False)),
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
    )
    elapsed = time.perf_counter() - started
    kinds = {k: len(catalog.of_kind(k)) for k in ("vqvae", "prior", "vocoder")}
    log.info(
        "studio at %s (%s VQ-VAE, %s prior, %s vocoder runs; output %s), up in %.1f s",
        url,
        *kinds.values(),
        out,
        elapsed,
    )
    if warm and cfg.get("warm_up", True):
        threading.Thread(target=engine.warm_up, daemon=True, name="studio-warm-up").start()
    studio = Studio(url, demo, engine, catalog, elapsed)
    if block:
        try:
            demo.block_thread()
        finally:
            studio.close()
    return studio
