"""The prior through its real CLIs: train_prior's run folder, generate, decode of generated
codes, evaluate_prior, and one clear line for every bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rvqvae.codec import load_codes
from rvqvae.codec.grid import encode_grid
from rvqvae.data.io import load_audio
from rvqvae.data.mel import audio_to_mel
from rvqvae.generate import GenerateError
from rvqvae.generate import run as generate
from rvqvae.prior.checkpoint import load_prior
from rvqvae.prior.evaluation import sample
from rvqvae.prior.sampling import SamplingSettings
from tests.helpers import compose_app, train_here

from .conftest import PRIOR_ARGS, check, run_module

SUMMARY_KEYS = (
    "status",
    "val/bits_per_s",
    "raw_bits_per_s",
    "unigram_bits_per_s",
    "val/ce_per_level",
    "fd_prior",
    "fd_unigram",
    "fd_reconstruction",
    "wfd_prior",
    "wfd_inf_prior",
    "c2st_prior",
    "coverage_prior",
    "silent_fraction_prior",
    "silent_fraction_validation",
    "longest_copy_s",
    "train_seconds",
    "vqvae_checkpoint",
)


def _generate_cfg(ckpt: Path, out: Path, **overrides) -> dict:
    cfg = {
        "ckpt": str(ckpt),
        "output": str(out),
        "seconds": 1.3,
        "num_samples": 2,
        "seed": 3,
        "temperature": 1.0,
        "top_k": 0,
        "top_p": 1.0,
        "prompt": None,
        "prompt_seconds": None,
        "batch_size": 8,
        "griffin_lim_iters": 2,
        "device": "cpu",
    }
    return {**cfg, **overrides}


def test_train_prior_writes_its_run_folder(prior_run: Path, vqvae_run: dict) -> None:
    summary = json.loads((prior_run / "summary.json").read_text())
    assert summary["status"] == "completed", summary
    assert summary["kind"] == "prior"
    for key in SUMMARY_KEYS:
        assert summary.get(key) is not None, key
    assert len(summary["val/ce_per_level"]) == summary["num_quantizers"] == 3
    per_level = summary["val/bits_per_s_per_level"]
    assert sum(per_level) == pytest.approx(summary["val/bits_per_s"])
    # raw bits/s: 8 rows x 3 levels x log2(64) bits per column, ~5.86 columns per second
    assert 0.8 * 8 * 3 * 6 * 5.86 < summary["raw_bits_per_s"] < 1.25 * 8 * 3 * 6 * 5.86
    assert 0 < summary["unigram_bits_per_s"] < summary["raw_bits_per_s"]
    assert summary["fd_reconstruction"] >= 0 and summary["longest_copy_s"] >= 0
    # validation shuffled in time: the frame FD cannot see it, the windowed FD can
    assert summary["fd_shuffled"] == pytest.approx(0.0, abs=1e-6)
    assert summary["wfd_shuffled"] > 0 and summary["wfd_train"] > 0
    assert Path(summary["vqvae_checkpoint"]) == vqvae_run["run"] / "checkpoints" / "best.ckpt"
    assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (prior_run / "checkpoints").iterdir()}
    rows = list(csv.DictReader((prior_run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for key in (
        "train/loss",
        "val/nll",
        "val/bits_per_s",
        "val/bits_per_s/level_2",
        "val/ce/level_0",
        "raw_bits_per_s",
        "unigram_bits_per_s",
        "train/tokens_per_s",
    ):
        assert rows[-1][key] != "", key
    for folder in ("epoch_0001", "final"):
        names = {p.name for p in (prior_run / "previews" / folder).iterdir()}
        assert {"sample_0.wav", "sample_0.png"} <= names, folder


def test_evaluate_prior_reproduces_the_runs_validation_figures(
    prior_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval_prior"
    proc = run_module(
        "rvqvae.evaluate_prior",
        [
            f"ckpt={prior_run / 'checkpoints' / 'best.ckpt'}",
            f"output={out}",
            "num_samples=2",
            "seconds=1.0",
            f"hydra.run.dir={out}",
        ],
        tmp_path,
    )
    check(proc, "evaluate_prior")
    figures = json.loads((out / "eval_prior.json").read_text())
    summary = json.loads((prior_run / "summary.json").read_text())
    # the best checkpoint scores the validation files exactly as its training epoch did
    assert figures["val/bits_per_s"] == pytest.approx(summary["val/bits_per_s"], rel=1e-4)
    assert figures["unigram_bits_per_s"] == pytest.approx(summary["unigram_bits_per_s"])
    assert "windowed Fréchet distance" in proc.stdout and "two-sample accuracy" in proc.stdout


def test_generate_files_of_exact_length_deterministic_for_a_seed(prior_run: Path, tmp_path) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    a = generate(_generate_cfg(ckpt, tmp_path / "a"), str(tmp_path))
    b = generate(_generate_cfg(ckpt, tmp_path / "b"), str(tmp_path))
    c = generate(_generate_cfg(ckpt, tmp_path / "c", seed=4), str(tmp_path))
    assert len(a) == 2
    for paths in a:
        assert sf.info(paths["wav"]).frames == round(1.3 * 48000)
        assert paths["png"].is_file()
    codes = [[load_codes(p["codes"]).codes for p in run] for run in (a, b, c)]
    assert all(np.array_equal(x, y) for x, y in zip(codes[0], codes[1]))
    assert not all(np.array_equal(x, y) for x, y in zip(codes[0], codes[2]))
    first = load_codes(a[0]["codes"])
    assert first.layout == "grid" and first.generator["seed"] == 3


def test_generated_codes_decode_with_rvqvae_decode(prior_run: Path, tmp_path: Path) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    written = generate(_generate_cfg(ckpt, tmp_path / "gen", num_samples=1), str(tmp_path))
    from rvqvae.decode import run as decode

    out = tmp_path / "decoded"
    args = [f"ckpt={ckpt}", f"input={written[0]['codes']}", f"output={out}"]
    decode(compose_app("decode", [*args, "griffin_lim_iters=2"]))  # the prior's ckpt will do
    assert sf.info(out / "sample_000.wav").frames == round(1.3 * 48000)


def test_the_prior_checkpoint_alone_generates(prior_run: Path, vqvae_run: dict) -> None:
    vqvae_ckpt = vqvae_run["run"] / "checkpoints" / "best.ckpt"
    hidden = vqvae_ckpt.with_name("hidden.ckpt")
    vqvae_ckpt.rename(hidden)  # the VQ-VAE's own files are not needed
    try:
        loaded = load_prior(prior_run / "checkpoints" / "best.ckpt")
        samples = sample(loaded.prior, loaded.codec, 2, 1.0, SamplingSettings(), seed=0)
    finally:
        hidden.rename(vqvae_ckpt)
    assert samples.mels.shape == (2, 128, 94)
    assert torch.isfinite(samples.mels).all()


def test_prompt_is_continued(prior_run: Path, vqvae_run: dict, tmp_path: Path) -> None:
    ckpt = prior_run / "checkpoints" / "best.ckpt"
    prompt = vqvae_run["audio"] / "tone_000.wav"
    written = generate(
        _generate_cfg(ckpt, tmp_path, num_samples=1, prompt=str(prompt), prompt_seconds=0.7),
        str(tmp_path),
    )
    loaded = load_prior(ckpt)
    mel = audio_to_mel(load_audio(prompt)[: round(0.7 * 48000)], loaded.codec.settings)
    expected = encode_grid(loaded.codec.model, torch.from_numpy(mel[:, : mel.shape[1] // 16 * 16]))
    codes = load_codes(written[0]["codes"])
    grid = codes.codes[0].reshape(8, -1, 3)
    assert expected.shape[1] == 4  # 0.7 s -> 65 frames -> 4 whole columns
    assert np.array_equal(grid[:, :4], expected.numpy())
    assert sf.info(written[0]["wav"]).frames == round(1.3 * 48000)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"seconds": 0}, "seconds must be a number > 0"),
        ({"seconds": -2.0}, "seconds must be a number > 0"),
        ({"top_p": 0.0}, "top_p must be in (0, 1]"),
        ({"top_p": 1.2}, "top_p must be in (0, 1]"),
        ({"top_k": -1}, "top_k must be an integer >= 0"),
        ({"temperature": 0.0}, "temperature must be a number > 0"),
        ({"num_samples": 0}, "num_samples must be an integer >= 1"),
        ({"prompt_seconds": 1.0, "seconds": 0.8}, "is not shorter than seconds=0.8"),
        ({"prompt_seconds": 5.0, "seconds": 8.0}, "prompt_seconds=5 is longer than the prompt"),
    ],
)
def test_bad_generate_settings_are_one_line(prior_run, vqvae_run, tmp_path, overrides, message):
    cfg = _generate_cfg(prior_run / "checkpoints" / "best.ckpt", tmp_path)
    if "prompt_seconds" in overrides:
        cfg["prompt"] = str(vqvae_run["audio"] / "tone_001.wav")
    with pytest.raises((ValueError, GenerateError)) as err:
        generate({**cfg, **overrides}, str(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not list(tmp_path.glob("*.wav"))


def test_bad_checkpoints_and_prompts_are_one_line(prior_run, vqvae_run, tmp_path) -> None:
    prior_ckpt = prior_run / "checkpoints" / "best.ckpt"
    vqvae_ckpt = vqvae_run["run"] / "checkpoints" / "best.ckpt"
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are not samples")
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.ckpt"
    checkpoint = torch.load(prior_ckpt, weights_only=True)
    checkpoint["rvqvae_prior"]["payload"] = _Evil(marker)
    torch.save(checkpoint, evil)
    # generate's own errors, in this process: one line each, nothing written
    in_process = [
        ({"ckpt": str(tmp_path / "nope.ckpt")}, "checkpoint not found"),
        ({"ckpt": str(evil)}, "safely (weights_only)"),
        ({"ckpt": str(vqvae_ckpt)}, "is an RVQ-VAE checkpoint"),
        ({"prompt": str(not_audio)}, "cannot be decoded"),
    ]
    for overrides, message in in_process:
        with pytest.raises(ValueError) as err:  # the project's errors are ValueErrors
            cfg = {**_generate_cfg(prior_ckpt, tmp_path / "out"), **overrides}
            generate(cfg, str(tmp_path))
        text = str(err.value)
        assert message in text and "\n" not in text.strip(), (message, text)
        assert not list((tmp_path / "out").glob("*.wav"))
    assert not marker.exists()
    # through the CLIs: exit code 1, exactly one ERROR line, no traceback, no code executed
    cases = [
        ("rvqvae.generate", [f"ckpt={evil}"], "safely (weights_only)"),
        ("rvqvae.train_prior", [f"vqvae={tmp_path / 'none'}", "debug=fast"], "no such run folder"),
    ]
    for module, args, message in cases:
        proc = run_module(module, [*args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
        assert proc.returncode == 1, (module, args, proc.stderr)
        output = proc.stdout + proc.stderr
        errors = [line for line in output.splitlines() if "ERROR" in line]
        assert len(errors) == 1 and message in errors[0], (message, output)
        assert "Traceback" not in output
    assert not marker.exists()
    # train_prior's own refusal of a prior given as the VQ-VAE, in this process (the CLI's
    # one-line printing of the project's errors is checked above)
    with pytest.raises(ValueError, match="is a prior checkpoint") as err:
        train_here([f"vqvae={prior_ckpt}", "debug=fast"], tmp_path / "run2", job="train_prior")
    assert "\n" not in str(err.value).strip()


class _Evil:
    """Unpickling this runs ``open(marker, 'w')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_code_grids_are_cached_by_vqvae_weights(vqvae_run: dict, tmp_path: Path) -> None:
    from rvqvae.codec.model import Codec
    from rvqvae.prior.data import PriorDataModule
    from rvqvae.prior.grids import rebuild_split
    from rvqvae.prior.layout import GridLayout

    codec = Codec.from_checkpoint(vqvae_run["run"] / "checkpoints" / "best.ckpt")
    layout = GridLayout(8, 3, codec.model.codebook_size)
    cache = tmp_path / "cache"
    # the mel cache of the VQ-VAE run, without the code grids the prior run may have cached
    shutil.copytree(vqvae_run["root"] / "cache", cache, ignore=shutil.ignore_patterns("codes"))
    first = PriorDataModule(codec, layout, 8, cache_dir=str(cache))
    first.setup()
    again = PriorDataModule(codec, layout, 8, cache_dir=str(cache))
    again.setup()
    assert first.cache_stats == {"hits": 0, "misses": 6}
    assert again.cache_stats == {"hits": 6, "misses": 0}
    assert all(torch.equal(a, b) for a, b in zip(first.train_grids, again.train_grids))
    # the same split as the VQ-VAE run: its datamodule rebuilt from its checkpoint's config
    train, val, _ = rebuild_split(codec, str(cache))
    assert first.train_files == train and first.val_files == val and set(train).isdisjoint(val)
    with torch.no_grad():  # other weights: other codes, so new cache entries
        codec.model.encoder.proj.bias.add_(0.5)
    codec.weights_sha256 = "changed"
    other = PriorDataModule(codec, layout, 8, cache_dir=str(cache))
    other.setup()
    assert other.cache_stats == {"hits": 0, "misses": 6}


def test_dataset_kind_keeps_the_files_of_one_folder(vqvae_run: dict, tmp_path: Path) -> None:
    from rvqvae.codec.model import Codec
    from rvqvae.prior.data import PriorDataModule, of_kind
    from rvqvae.prior.layout import GridLayout

    files = [Path("/d/music/a.wav"), Path("/d/speech/b.wav"), Path("/d/musical/c.wav")]
    assert of_kind(files, "music") == [files[0]]  # a whole folder name, at any depth
    assert of_kind(files, "d") == files
    codec = Codec.from_checkpoint(vqvae_run["run"] / "checkpoints" / "best.ckpt")
    layout = GridLayout(8, 3, codec.model.codebook_size)
    cache = tmp_path / "cache"
    shutil.copytree(vqvae_run["root"] / "cache", cache)
    every = PriorDataModule(codec, layout, 8, cache_dir=str(cache))
    every.setup()
    folder = every.train_files[0].parent.name  # the tiny run's files share one folder
    same = PriorDataModule(codec, layout, 8, cache_dir=str(cache), kind=folder)
    same.setup()
    assert same.train_files == every.train_files and same.val_files == every.val_files
    with pytest.raises(ValueError, match=r"dataset.kind='speech': 0 training / 0 validation"):
        PriorDataModule(codec, layout, 8, cache_dir=str(cache), kind="speech").setup()


@pytest.mark.slow  # ~40 s: two tiny priors and the sweep's report
def test_train_prior_multirun_writes_jobs_and_report(vqvae_run: dict, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", f"vqvae={vqvae_run['run']}", *PRIOR_ARGS, "seed=0,1", f"hydra.sweep.dir={sweep}"]
    check(run_module("rvqvae.train_prior", args, tmp_path), "train_prior -m")
    summaries = [json.loads((sweep / job / "summary.json").read_text()) for job in ("0", "1")]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    assert [s["seed"] for s in summaries] == [0, 1]
    report = (sweep / "report.md").read_text()
    assert "## Priors" in report and "from 2 runs (2 completed)" in report


@pytest.mark.slow  # ~40 s: 2 gloo ranks on CPU
@pytest.mark.xdist_group("multiprocess")
def test_train_prior_ddp_two_cpu_ranks_stay_identical(vqvae_run: dict, tmp_path: Path) -> None:
    from rvqvae.training.distributed import RANK_STATE_ENV

    run = tmp_path / "ddp"
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    args = [f"vqvae={vqvae_run['run']}", *PRIOR_ARGS, *ddp, f"hydra.run.dir={run}"]
    check(run_module("rvqvae.train_prior", args, tmp_path, env={RANK_STATE_ENV: "1"}), "ddp")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["val/bits_per_s"] > 0
    ranks = [json.loads((run / "rank_state" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys() and any("transformer" in k for k in ranks[0])
    assert [k for k in ranks[0] if ranks[0][k] != ranks[1][k]] == []  # weights equal after training


def test_report_shows_the_windowed_figures_of_a_prior_run(prior_run: Path) -> None:
    from rvqvae.report import collect_runs
    from rvqvae.report.priors import WINDOW_COLUMNS, prior_window_table

    summary = json.loads((prior_run / "summary.json").read_text())
    table = prior_window_table(collect_runs([prior_run]))
    (row,) = table.rows
    cells = dict(zip(table.headers, row))
    for title, key, digits in WINDOW_COLUMNS:
        if isinstance(summary.get(key), float) and summary[key] == summary[key]:  # not NaN
            assert float(cells[title]) == pytest.approx(summary[key], abs=10.0**-digits), title
    assert cells["wFD shuffled"] not in ("", "—")
