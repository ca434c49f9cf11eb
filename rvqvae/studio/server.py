"""Starting the studio: its folders, engine, page and server (loopback, no share, no SSR), and
gradio imported without its import-time stub upkeep (:func:`import_gradio`)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
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


def _no_stub_upkeep(*args: Any, **kwargs: Any) -> None:
    """Stands in for ``gradio.component_meta.create_or_modify_pyi`` (see :func:`import_gradio`)."""


class _SkipStubUpkeep(importlib.abc.MetaPathFinder):
    """Finds ``gradio.component_meta`` as usual and, once it has run, replaces its
    ``create_or_modify_pyi`` by :func:`_no_stub_upkeep` (before any component class exists)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "gradio.component_meta":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            if callable(getattr(module, "create_or_modify_pyi", None)):
                module.create_or_modify_pyi = _no_stub_upkeep

        loader.exec_module = exec_module
        return spec


def import_gradio() -> Any:
    """``import gradio`` without its upkeep of its own type stubs: at every import, gradio
    (6.x) re-reads and ``ast``-parses the source of each component class and renders its
    ``.pyi`` stub (``component_meta.create_or_modify_pyi``, a development aid that only writes
    ``.pyi`` files, which nothing reads at run time): about 45 % of ``import gradio`` and a
    third of the studio's start. Where gradio is already imported, or renamed that function,
    this is a plain import."""
    finder = _SkipStubUpkeep()
    sys.meta_path.insert(0, finder)
    try:
        import gradio
    finally:
        sys.meta_path.remove(finder)
    return gradio


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
        import_gradio()  # after GRADIO_ANALYTICS_ENABLED is set
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
