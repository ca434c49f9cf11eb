"""The ``vocoder`` config group of ``python -m rvqvae.train_vocoder`` (sizes and presets).

Its files live in ``conf/vocoder_presets/`` and are registered as the group ``vocoder`` in
Hydra's ConfigStore by the ``train_vocoder`` entry point only: were ``conf/vocoder/`` a group
for every app, ``vocoder=griffinlim`` on ``decode``, ``generate`` and ``evaluate`` (a plain
key there) would be read as a group choice and refused by Hydra.
"""

from __future__ import annotations

from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parent.parent.parent / "conf" / "vocoder_presets"
GROUP = "vocoder"


def register_vocoder_presets(presets_dir: Path = PRESETS_DIR) -> list[str]:
    """Store every ``presets_dir/*.yaml`` as option ``<stem>`` of the ``vocoder`` group (their
    own defaults lists included); returns the option names. Idempotent."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    store = ConfigStore.instance()
    names = []
    for path in sorted(presets_dir.glob("*.yaml")):
        store.store(group=GROUP, name=path.stem, node=OmegaConf.load(path), provider="rvqvae")
        names.append(path.stem)
    return names
