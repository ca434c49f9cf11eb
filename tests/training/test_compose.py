"""Real Hydra composition of conf/: every group, resolver tiers, override precedence."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

import rvqvae  # noqa: F401  (registers resolvers)
from rvqvae.training.config import get_adaptive_vqvae_config
from rvqvae.training.validation import ConfigError, validate_config

from .conftest import REPO, write_tones

CONF = str(REPO / "conf")


def _resolve(overrides: list[str]) -> dict:
    """The composed and resolved train config (inside an initialised Hydra)."""
    cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/tmp/rvqvae-compose-test"
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.to_container(cfg, resolve=True)


def resolved(overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return _resolve(overrides)


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tones(tmp_path_factory.mktemp("data") / "audio", 3, seconds=0.2)


def test_default_composition() -> None:
    """The defaults wire the synth preset's file count into the tiers, and the preset's own
    recipe (conf/dataset/synth.yaml) wins over both the tier and train.yaml."""
    cfg = resolved([])
    preset = yaml.safe_load((REPO / "conf" / "dataset" / "synth.yaml").read_text())
    count = cfg["dataset"]["file_count"]
    assert count == cfg["dataset"]["synth"]["num_files"]
    tier = get_adaptive_vqvae_config(count)
    assert cfg["model"]["codebook_size"] == tier.codebook_size
    assert cfg["model"]["decay"] == tier.decay
    assert cfg["dataset"]["val_fraction"] == tier.val_fraction
    for section, key in (
        ("model", "dropout"),
        ("dataset", "batch_size"),
        ("dataset", "augmentation_expansion"),
        ("trainer", "max_epochs"),
    ):
        assert getattr(tier, key) != preset[section][key], (key, "pick a key the preset changes")
        assert cfg[section][key] == preset[section][key], key
    assert cfg["scheduler"]["warmup_steps"] == preset["scheduler"]["warmup_steps"]
    assert cfg["scheduler"]["_target_"].endswith("warmup_cosine")  # the preset's override
    assert cfg["model"] == resolved(["model=rvq3"])["model"]  # rvq3 is the default model
    validate_config(cfg)


def _native_cpu_bf16() -> bool:
    """This machine's CPU does bf16 natively (read here from /proc/cpuinfo, independently)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"^flags\s*:.*\b(avx512_bf16|amx_bf16)\b", text, re.MULTILINE))


def test_precision_is_one_the_machine_runs() -> None:
    """trainer.precision resolves to bf16 mixed precision where ``accelerator=auto`` picks a GPU
    that has bf16, or the CPU when it does bf16 natively (the VQ-VAE only: the prior stays fp32
    on CPUs), else fp32; Lightning accepts it there."""
    import lightning as L
    import torch
    from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

    trainer_cfg = resolved([])["trainer"]
    precision = trainer_cfg["precision"]
    trainer = L.Trainer(
        accelerator=trainer_cfg["accelerator"],
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    on_bf16_gpu = isinstance(trainer.accelerator, CUDAAccelerator) and (
        torch.cuda.is_bf16_supported()
    )
    on_bf16_cpu = isinstance(trainer.accelerator, CPUAccelerator) and _native_cpu_bf16()
    assert precision == ("bf16-mixed" if on_bf16_gpu or on_bf16_cpu else "32-true")
    forced = resolved(["trainer.accelerator=cpu", "trainer.precision=32-true"])["trainer"]
    assert forced["precision"] == "32-true"  # an explicit choice still wins
    assert (
        resolved(["trainer.accelerator=cpu", "cpu_precision=32-true"])["trainer"]["precision"]
        == "32-true"
    )
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):  # the prior: fp32 on CPUs
        prior = compose("train_prior", overrides=["trainer.accelerator=cpu", "vqvae=none"])
    assert OmegaConf.select(prior, "trainer.precision") == "32-true"


def test_cpu_bf16_flag_reader(tmp_path: Path) -> None:
    from rvqvae.resolvers import cpu_has_bf16

    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 vaes\n")
    without = tmp_path / "b"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512bw\n")
    assert cpu_has_bf16(str(with_bf16)) and not cpu_has_bf16(str(without))
    assert not cpu_has_bf16(str(tmp_path / "missing"))  # no /proc (macOS): fp32


def all_pairs(groups: dict[str, list[str]]) -> list[dict[str, str]]:
    """Combinations of one option per group in which every pair of options from two groups
    appears together at least once (a greedy covering array: 16 rows instead of the full
    product's 216 for conf/'s five groups)."""
    names = list(groups)
    uncovered = {
        (a, x, b, y)
        for a, b in itertools.combinations(names, 2)
        for x in groups[a]
        for y in groups[b]
    }
    rows: list[dict[str, str]] = []
    while uncovered:
        best, best_gain = None, -1
        for combo in itertools.product(*groups.values()):
            row = dict(zip(names, combo))
            pairs = {(a, row[a], b, row[b]) for a, b in itertools.combinations(names, 2)}
            if len(pairs & uncovered) > best_gain:
                best, best_gain = row, len(pairs & uncovered)
        assert best is not None
        rows.append(best)
        uncovered -= {(a, best[a], b, best[b]) for a, b in itertools.combinations(names, 2)}
    return rows


def test_all_pairs_covers_every_pair() -> None:
    groups = {"a": ["1", "2", "3"], "b": ["x", "y"], "c": ["p", "q", "r"], "d": ["u", "v"]}
    rows = all_pairs(groups)
    for g, h in itertools.combinations(groups, 2):
        seen = {(r[g], r[h]) for r in rows}
        assert seen == set(itertools.product(groups[g], groups[h]))
    assert len(rows) < 3 * 2 * 3 * 2


def test_every_pair_of_group_options_composes(audio_dir: Path) -> None:
    """Every option of every group composes and validates beside every option of every other
    group (all pairs; Hydra takes ~0.35 s a composition, the full product 78 s)."""
    groups = {g: group_options(g) for g in ("dataset", "model", "codebook", "trainer", "logger")}
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):  # once: compose is cheap
        for row in all_pairs(groups):
            extra = [f"dataset.path={audio_dir}"] if row["dataset"] == "folder" else []
            cfg = _resolve([f"{g}={o}" for g, o in row.items()] + extra)
            validate_config(cfg)
            assert cfg["model"]["_target_"] == "rvqvae.models.vqvae.ConvVQVAE"
            for group, option in row.items():  # each chosen option is the one composed
                if group == "model":
                    want = int(option.removeprefix("rvq"))
                    assert cfg["model"]["num_quantizers"] == want
        for option in ("debug=fast", *(f"experiment={e}" for e in group_options("experiment"))):
            validate_config(_resolve([option]))


@pytest.mark.parametrize(
    ("count", "size", "decay"), [(10, 64, 0.8), (50, 128, 0.9), (200, 256, 0.95)]
)
def test_auto_tier_from_folder(tmp_path: Path, count: int, size: int, decay: float) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(count):  # the count is cheap: extensions only, nothing is decoded
        (folder / f"f{i:03d}.wav").write_bytes(b"")
    (folder / ".hidden.wav").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio")
    cfg = resolved(["dataset=folder", f"dataset.path={folder}"])
    assert cfg["dataset"]["file_count"] == count
    assert cfg["model"]["codebook_size"] == size
    assert cfg["model"]["decay"] == decay
    assert cfg["dataset"]["batch_size"] == min(32, count * 5 // 4)


def test_override_precedence(audio_dir: Path) -> None:
    base = ["dataset=folder", f"dataset.path={audio_dir}"]
    assert resolved(base)["model"]["codebook_size"] == 64  # 3 files -> small tier
    assert resolved([*base, "codebook=large"])["model"]["codebook_size"] == 256
    assert (
        resolved([*base, "codebook=large", "model.codebook_size=512"])["model"]["codebook_size"]
        == 512
    )
    cfg = resolved([*base, "model=rvq4", "trainer.max_epochs=7", "optimizer.lr=0.01"])
    assert cfg["model"]["num_quantizers"] == 4
    assert cfg["trainer"]["max_epochs"] == 7
    assert cfg["optimizer"]["lr"] == 0.01
    assert resolved(["model=rvq2"])["model"]["num_quantizers"] == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.num_quantizers=0", "model.num_quantizers"),
        ("optimizer.lr=-1", "optimizer.lr"),
        ("dataset.val_fraction=1.5", "dataset.val_fraction"),
        ("dataset.batch_size=0", "dataset.batch_size"),
    ],
)
def test_invalid_values_rejected(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(resolved([override]))
