"""``python -m rvqvae.edit``: one real CLI run (inpaint with rescoring, then the same file
edited again in-process), every op through the job's settings, and one line per bad input."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from rvqvae.codec.cli import one_line
from rvqvae.codec.format import load_codes
from rvqvae.editing.app import load_models, operate
from rvqvae.editing.app import run as edit
from rvqvae.editing.ranges import EditError
from rvqvae.editing.sources import load_source
from tests.helpers import REPO, run_module


def _cfg(ckpt: Path, source: Path, out: Path, **overrides) -> dict:
    """conf/edit.yaml's settings with ``overrides``."""
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "edit.yaml"))
    for key in ("defaults", "hydra"):
        cfg.pop(key)
    cfg |= {"ckpt": str(ckpt), "a": str(source), "output": str(out), "griffin_lim_iters": 2}
    return {**cfg, **overrides}


def test_edit_cli_inpaints_and_its_output_edits_again(prior_run, tones, tmp_path) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    out = tmp_path / "out"
    args = [f"ckpt={ckpt}", "op=inpaint", f"a={tones[0]}", "range=[0.5,1.0]", "candidates=2"]
    proc = run_module(
        "rvqvae.edit", [*args, f"output={out}", "name=x", "griffin_lim_iters=2"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "inpaint: regenerated levels >= 0 over 0.512-1.024 s (columns 3-6)" in proc.stdout
    codes = load_codes(out / "x.codes.npz")
    (entry,) = codes.generator["history"][1:]
    assert entry["op"] == "inpaint" and entry["range"]["start_column"] == 3
    assert entry["candidates"] == 2 and len(entry["right_log_prob"]) == 2
    audio, sr = sf.read(out / "x.wav")
    assert len(audio) == codes.num_samples and sr == codes.settings.sample_rate
    # the result is an input: continued in-process, its history grows, the prompt stays
    cfg = _cfg(ckpt, out / "x.codes.npz", out, op="continue", prompt_seconds=1.5, seconds=2.5)
    (result,) = operate(cfg, *_models(ckpt))
    assert [h.get("op") for h in result.history] == [None, "inpaint", "continue"]
    assert result.num_samples == round(2.5 * codes.settings.sample_rate)
    assert (result.grid[:, :9] == torch.from_numpy(codes.grid[:, :9].astype("int64"))).all()


def test_the_ops_without_a_prior_run_on_a_vqvae_checkpoint(tiny_run, tone_codes, tmp_path) -> None:
    codec, loaded = load_models(str(tiny_run.ckpt), "cpu", "show")
    assert loaded is None
    a, b = tone_codes[1], str(tone_codes[2])
    extra = {
        "swap_levels": {"b": b},
        "blend": {"b": b, "range": [0.3, 1.0]},
        "splice": {"b": b, "parts": ["a:0-0.5", "b:1-*2"]},
    }
    results = {}
    for op in ("show", *extra):
        results[op] = operate(
            _cfg(tiny_run.ckpt, a, tmp_path, op=op, **extra.get(op, {})), codec, None
        )
        for r in results[op]:
            assert r.history[-1]["op"] == op and r.history[-1]["inputs"][0]["path"] == str(a)
            assert r.grid.shape[1] * 16 * codec.settings.hop_length >= r.num_samples
    (splice,) = results["splice"]
    assert splice.grid.shape[1] == 3 + 2 * 6 and len(splice.marks_s) == 2
    assert len(results["swap_levels"]) == 2
    used = [int(m) for m in re.findall(r"level \d: (\d+)/", results["show"][0].line)]
    grid = results["show"][0].grid
    assert used == [len(torch.unique(grid[..., q])) for q in range(grid.shape[2])]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"op": "inpaint"}, "op=inpaint needs range=[START_S,END_S]"),
        ({"op": "inpaint", "range": [0.5, 9.0]}, "range=[0.5, 9.0] is outside"),
        ({"op": "variation", "levels": 7}, "levels must be an integer in [1, "),
        ({"op": "blend"}, "op=blend needs a second input: b="),
        ({"op": "splice", "parts": ["c:0-1"]}, "splice part 'c:0-1': write SOURCE"),
        ({"op": "zoom"}, "op must be one of show, swap_levels"),
        (
            {"op": "inpaint", "range": [0.5, 1.0], "method": "magic"},
            "method must be one of rescore, left",
        ),
        ({"op": "inpaint", "range": [0.5, 1.0], "method": "masked", "steps": 0}, "steps must be"),
        (
            {"op": "inpaint", "range": [0.5, 1.0], "method": "masked", "noise": -1},
            "noise must be a finite number >= 0",
        ),
        (
            {"op": "inpaint", "range": [0.5, 1.0], "method": "masked", "coarse_first": "yes"},
            "coarse_first must be true or false",
        ),
        (
            {"op": "inpaint", "range": [0.5, 1.0], "method": "masked"},
            "method=masked needs a prior trained with prior.model.order=masked",
        ),
        ({"a": "missing.wav"}, "a=missing.wav: no such codes or audio file"),
    ],
)
def test_bad_settings_are_one_line(prior_run, tone_codes, tmp_path, overrides, message) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    codec, loaded = _models(ckpt)
    with pytest.raises(EditError) as err:
        operate(_cfg(ckpt, tone_codes[0], tmp_path, **overrides), codec, loaded)
    line = one_line(err.value)
    assert message in line and "\n" not in line


@functools.cache
def _models(ckpt: Path) -> tuple:
    return load_models(str(ckpt), "cpu", "inpaint")


def test_inpaint_by_fill_in_the_middle_records_its_method(prior_run, tone_codes, tmp_path) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    codec, loaded = _models(ckpt)
    cfg = _cfg(ckpt, tone_codes[0], tmp_path, op="inpaint", range=[0.5, 1.0], method="fim")
    (result,) = operate(cfg, codec, loaded)
    assert result.entry["method"] == "fim" and result.entry["candidates"] == 1
    assert result.entry["right"]["start_column"] == result.entry["range"]["end_column"]
    before = load_source(codec, tone_codes[0]).grid
    start, end = result.entry["range"]["start_column"], result.entry["range"]["end_column"]
    assert torch.equal(result.grid[:, :start], before[:, :start])
    assert torch.equal(result.grid[:, end:], before[:, end:])


def test_prior_ops_need_a_prior_checkpoint(tiny_run, tones, tmp_path) -> None:
    with pytest.raises(EditError, match="is a VQ-VAE checkpoint: give a prior checkpoint"):
        edit(_cfg(tiny_run.ckpt, tones[0], tmp_path, op="variation"), str(tmp_path))
