"""The code grid view of the prior's samples: written beside each end-of-training sample
(previews/final/sample_K_grid.png, with its codes file), by evaluate_prior (samples/), and
shown in the local report's prior samples; the W&B key is checked with the prior's other
Report keys (tests/report/test_wandb_keys.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from PIL import Image

from rvqvae.codec.format import load_codes
from rvqvae.report import collect_runs, write_local_report
from tests.prior.conftest import check, run_module


def png_height(path: Path) -> int:
    """Height of a PNG that decodes whole."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        image.load()
        return image.size[1]


def test_final_samples_have_codes_and_a_grid_view(prior_run: Path) -> None:
    final = prior_run / "previews" / "final"
    wavs = sorted(final.glob("sample_*.wav"))
    assert wavs
    for wav in wavs:
        view = final / f"{wav.stem}_grid.png"
        mel_png = final / f"{wav.stem}.png"
        # the grid view stacks one code panel per level above the mel: taller than the mel alone
        assert png_height(view) > png_height(mel_png)
        codes = load_codes(final / f"{wav.stem}.codes.npz")
        grid = codes.grid
        assert grid.ndim == 3 and grid.shape[-1] == codes.num_quantizers >= 2
        assert np.all((grid >= 0) & (grid < codes.codebook_size))


def test_the_report_shows_each_samples_grid_view(prior_run: Path, tmp_path: Path) -> None:
    (run,) = collect_runs([prior_run])
    assert run.is_prior
    md_path, html_path = write_local_report([run], tmp_path / "report")
    section = md_path.read_text().split("## Prior samples", 1)[1]
    views = sorted((prior_run / "previews" / "final").glob("sample_*_grid.png"))
    for view in views:  # on the sample's own line, after its audio
        (line,) = [ln for ln in section.splitlines() if f"{view.name}]" in ln]
        assert f"[{view.stem.removesuffix('_grid')}]" in line
    html = html_path.read_text()
    for view in views:
        assert base64.b64encode(view.read_bytes()).decode("ascii") in html


def test_evaluate_prior_writes_its_samples_codes_and_grid_views(
    prior_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval_prior"
    args = [f"ckpt={prior_run / 'checkpoints' / 'best.ckpt'}", f"output={out}"]
    args += ["num_samples=3", "seconds=1.0", "grid_views=2", f"hydra.run.dir={out}"]
    check(run_module("rvqvae.evaluate_prior", args, tmp_path), "evaluate_prior")
    written = sorted(p.name for p in (out / "samples").iterdir())
    assert written == [
        "sample_0.codes.npz",
        "sample_0_grid.png",
        "sample_1.codes.npz",
        "sample_1_grid.png",
    ]
    codes = load_codes(out / "samples" / "sample_0.codes.npz")
    assert abs(codes.duration_s - 1.0) < 0.05
    assert png_height(out / "samples" / "sample_0_grid.png") > 200
