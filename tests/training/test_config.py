"""VQVAEConfig and the adaptive codebook tiers (pure Python)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rvqvae.training.config import TIERS, VQVAEConfig, get_adaptive_vqvae_config

TIER_ORDER = list(TIERS)


def _tier_fields(cfg: VQVAEConfig) -> dict:
    return {key: getattr(cfg, key) for key in TIERS["small"][1]}


def test_each_tier_ends_at_its_file_count() -> None:
    """A tier's parameters hold up to its largest file count; one file more is the next tier."""
    for name, (max_files, params) in TIERS.items():
        if max_files == float("inf"):
            assert _tier_fields(get_adaptive_vqvae_config(10_000)) == params
            continue
        assert _tier_fields(get_adaptive_vqvae_config(int(max_files))) == params, name
        following = TIERS[TIER_ORDER[TIER_ORDER.index(name) + 1]][1]
        assert _tier_fields(get_adaptive_vqvae_config(int(max_files) + 1)) == following, name


def test_more_files_never_shrink_the_model_or_grow_the_validation_share() -> None:
    counts = [1, 5, 9, 10, 20, 21, 49, 50, 100, 101, 199, 200, 500, 5000]
    configs = [get_adaptive_vqvae_config(n) for n in counts]
    for a, b in zip(configs, configs[1:]):
        assert b.codebook_size >= a.codebook_size and b.decay >= a.decay
        assert b.val_fraction <= a.val_fraction and b.dropout <= a.dropout
    for n, cfg in zip(counts, configs):
        assert 0 < cfg.val_fraction < 1
        # at least one training and one validation file from 2 files on
        assert n < 2 or 1 <= round(n * cfg.val_fraction) < n, n
        assert 1 <= cfg.batch_size <= 32 and cfg.batch_size == min(32, max(1, n * 5 // 4))
    # what every tier shares (the architecture and quantizer) does not depend on the count
    shared = [{k: v for k, v in c.to_dict().items() if k not in TIERS["small"][1]} for c in configs]
    varies = {"batch_size", "val_fraction"}
    assert all(
        {k: v for k, v in d.items() if k not in varies}
        == {k: v for k, v in shared[0].items() if k not in varies}
        for d in shared
    )


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_file_count(bad: object) -> None:
    with pytest.raises(ValueError, match="file_count"):
        get_adaptive_vqvae_config(bad)  # type: ignore[arg-type]


def test_to_dict_round_trips() -> None:
    cfg = get_adaptive_vqvae_config(42)
    assert VQVAEConfig(**cfg.to_dict()) == cfg
    assert VQVAEConfig(**VQVAEConfig().to_dict()) == VQVAEConfig()


def test_config_module_does_not_import_torch() -> None:
    code = (
        "import sys; import rvqvae.training.config as c; c.get_adaptive_vqvae_config(5); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("tier", list(TIERS))
def test_forced_tier_keeps_file_count_rules(tier: str) -> None:
    forced, auto = get_adaptive_vqvae_config(7, tier=tier), get_adaptive_vqvae_config(7)
    assert _tier_fields(forced) == TIERS[tier][1]
    assert (forced.batch_size, forced.val_fraction) == (auto.batch_size, auto.val_fraction)
    assert get_adaptive_vqvae_config(7, tier="auto") == auto


def test_unknown_tier() -> None:
    with pytest.raises(ValueError, match="tier"):
        get_adaptive_vqvae_config(7, tier="huge")


@pytest.mark.parametrize("entry", ["rvqvae.train", "rvqvae.train_prior"])
def test_help_does_not_import_torch(entry: str) -> None:
    """``--help`` (and Hydra's composition before a job) stays light: the resume handling that
    runs before every command must not pull in torch or Lightning (it once cost 6 s)."""
    code = (
        "import contextlib, io, runpy, sys\n"
        f"sys.argv = [{entry!r}, '--help']\n"
        "out = io.StringIO()\n"
        "try:\n"
        "    with contextlib.redirect_stdout(out):\n"
        f"        runpy.run_module({entry!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'Powered by Hydra' in out.getvalue() or '== Config ==' in out.getvalue(), out\n"
        "heavy = [m for m in ('torch', 'lightning') if m in sys.modules]\n"
        "assert not heavy, f'--help imported {heavy}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
