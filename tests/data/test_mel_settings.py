"""``MelSettings.from_config``: the one constructor the datamodule, the training module and the
codec use, on a real composed config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rvqvae.codec.model import mel_settings_from_config
from rvqvae.data.mel import MelSettings
from rvqvae.training.module import chunk_geometry

CONF = str(Path(__file__).resolve().parents[2] / "conf")
OVERRIDES = {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "n_mels": 64, "fmax": 8000}


def test_datamodule_module_and_codec_build_the_same_settings(tmp_path: Path) -> None:
    overrides = ["dataset=synth", f"paths.cache_dir={tmp_path}"]
    overrides += [f"dataset.{k}={v}" for k, v in OVERRIDES.items()]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    plain = {"dataset": OmegaConf.to_container(cfg.dataset, resolve=True)}
    expected = MelSettings(22050, 1024, 256, 64, fmin=0.0, fmax=8000.0)
    assert MelSettings.from_config(cfg.dataset) == expected
    assert instantiate(cfg.dataset).settings == expected  # construction only, no loading
    assert mel_settings_from_config(plain) == expected
    duration = float(plain["dataset"]["chunk_duration_s"])
    assert chunk_geometry(plain) == (64, expected.chunk_frames(duration), duration)


def test_absent_keys_take_defaults_and_bad_values_name_the_key() -> None:
    assert MelSettings.from_config({}) == MelSettings()
    assert MelSettings.from_config({"fmax": None, "n_mels": "80"}).n_mels == 80
    with pytest.raises(ValueError, match=r"^dataset\.n_mels must be a number, got 'many'$"):
        MelSettings.from_config({"n_mels": "many"})
    with pytest.raises(ValueError, match="fmax"):
        MelSettings.from_config({"fmax": 30000})
