"""One studio page per test run, started in-process on the session's tiny runs (``tiny_run``,
the tiny prior, the tiny vocoder's VQ-VAE copy and its vocoder run), shared by the studio tests
(they run on one xdist worker: ``xdist_group("studio")``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.prior.conftest import prior_run, vqvae_run  # noqa: F401  (fixtures)

MAX_UPLOAD_MB = 1


@pytest.fixture(scope="session")
def studio(tiny_run, prior_run, tiny_vocoder, tmp_path_factory) -> Iterator[Any]:  # noqa: F811
    """The launched page (:class:`rvqvae.studio.server.Studio`) over four run folders."""
    pytest.importorskip("gradio")
    from rvqvae.studio.server import start

    runs = [tiny_run.run, prior_run, tiny_vocoder.vqvae, tiny_vocoder.run]
    cfg = {
        "runs": [str(r) for r in runs],
        "cache_dir": str(tiny_run.cache),
        "port": 0,
        "max_upload_mb": MAX_UPLOAD_MB,
        "max_seconds": 6.0,
        "griffin_lim_iters": 4,
    }
    page = start(cfg, str(tmp_path_factory.mktemp("studio_out")), warm=False)
    yield page
    page.close()


@pytest.fixture(scope="session")
def client(studio) -> Any:
    from gradio_client import Client

    return Client(studio.url, verbose=False)


def choice_values(update: dict[str, Any]) -> list[str]:
    """The values of a dropdown update's ``choices`` (``[label, value]`` pairs)."""
    return [c[1] if isinstance(c, list | tuple) else c for c in update["choices"]]


def existing(path: str | None) -> Path:
    assert path, "no file returned"
    p = Path(path)
    assert p.is_file() and p.stat().st_size > 0, path
    return p
