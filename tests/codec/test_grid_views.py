"""The code grid view beyond the edit op ``show``: a VQ-VAE run's validation files at the end of
training (previews/final/grid_K.png), in the local report beside the run's audio, and in W&B.
The renderer is one (rvqvae.codec.grid_view); these tests read what real runs wrote."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rvqvae.codec.grid_view import save_grid_view
from rvqvae.report import collect_runs, write_local_report
from tests.helpers import wandb_logged


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, after checking it is one that decodes whole."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        image.load()
        return image.size


def test_each_level_adds_a_panel_to_the_view(tmp_path: Path) -> None:
    """The same grid and mel with 1, 2 and 3 levels: one more row of codes per level, the time
    axis (the width) unchanged."""
    rng = np.random.default_rng(0)
    grid = torch.from_numpy(rng.integers(0, 16, size=(4, 12, 3)))
    mel = rng.random((64, 192)).astype(np.float32)
    sizes = [
        png_size(save_grid_view(grid[..., :q], mel, tmp_path / f"{q}.png", 0.17, 0.0107, 16))
        for q in (1, 2, 3)
    ]
    widths, heights = zip(*sizes)
    assert len(set(widths)) == 1
    assert heights[0] < heights[1] < heights[2]


def test_training_writes_the_code_grids_of_its_preview_files(tiny_run, tmp_path) -> None:
    final = tiny_run.run / "previews" / "final"
    grids = sorted(final.glob("grid_*.png"))
    assert 1 <= len(grids) <= 4, sorted(p.name for p in final.iterdir())  # num_files=4
    for path in grids:
        width, height = png_size(path)
        assert width > 200 and height > 200
    # one code panel per level above the mel: as tall as a view of as many levels, taller than
    # a view of one level (the height does not depend on the codes or the length)
    levels = int(tiny_run.summary["num_quantizers"])
    assert levels >= 2
    grid = torch.zeros(8, 12, levels, dtype=torch.long)
    mel = np.zeros((128, 192), dtype=np.float32)
    same = save_grid_view(grid, mel, tmp_path / "same.png", 0.17, 0.0107, 32)
    fewer = save_grid_view(grid[..., :1], mel, tmp_path / "one.png", 0.17, 0.0107, 32)
    assert png_size(path)[1] == png_size(same)[1] > png_size(fewer)[1]


def test_the_local_report_shows_the_code_grids_beside_the_audio(tiny_run, tmp_path) -> None:
    grids = sorted((tiny_run.run / "previews" / "final").glob("grid_*.png"))
    (run,) = collect_runs([tiny_run.run])
    assert run.preview_grids == grids
    md_path, html_path = write_local_report([run], tmp_path / "report")
    md = md_path.read_text()
    section = md.split("## Final previews", 1)[1]
    assert "0_recon" in section  # the run's audio, then its code grids in the same entry
    linked = re.findall(r"\]\(([^)]*grid_\d+\.png)\)", section)
    assert [(md_path.parent / p).resolve() for p in linked] == [p.resolve() for p in grids]
    html = html_path.read_text()
    for path in grids:  # embedded: the page stays self-contained
        assert base64.b64encode(path.read_bytes()).decode("ascii") in html


def test_wandb_gets_the_code_grids_as_images(fast_wandb_run) -> None:
    run = fast_wandb_run["run"]
    grids = sorted((run / "previews" / "final").glob("grid_*.png"))
    assert grids
    logged = wandb_logged(run)
    assert "previews/code_grid/_type" in logged.history
    media = list(run.glob("wandb/offline-run-*/files/media/images/previews/code_grid*.png"))
    assert len(media) == len(grids)
    assert {p.read_bytes() for p in media} == {p.read_bytes() for p in grids}
