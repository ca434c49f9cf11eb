"""The dataset file-count resolver walks the folder once per composition, not per interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

import rvqvae  # noqa: F401  (registers resolvers)
from rvqvae.data import discovery

CONF = str(Path(__file__).resolve().parents[2] / "conf")


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Folders counted by ``discovery.count_audio_files`` (each call is one walk of the tree)."""
    calls: list[str] = []
    real = discovery.count_audio_files

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(discovery, "count_audio_files", counting)
    return calls


def _folder(root: Path, n: int, write_wav) -> Path:
    for i in range(n):
        write_wav(root / f"t{i}.wav", duration_s=0.1)
    return root


def test_one_walk_per_composition(tmp_path: Path, write_wav, walks: list[str]) -> None:
    three = _folder(tmp_path / "three", 3, write_wav)
    five = _folder(tmp_path / "five", 5, write_wav)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train", overrides=["dataset=folder", f"dataset.path={three}"], return_hydra_config=True
        )
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert resolved["dataset"]["file_count"] == 3
        assert walks == [str(three)]  # ~20 interpolations read the count, one walk
        OmegaConf.to_container(OmegaConf.create(cfg), resolve=True)  # a copy carries the count
        assert len(walks) == 1

        cfg.dataset.path = str(five)  # another folder is counted afresh
        assert OmegaConf.to_container(cfg, resolve=True)["dataset"]["file_count"] == 5
        assert walks == [str(three), str(five)]
        OmegaConf.clear_cache(cfg)
        assert cfg.dataset.file_count == 5 and len(walks) == 3
