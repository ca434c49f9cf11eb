"""``resume=``: continue a run with the settings it was trained with, in its own folder.

- :func:`resume_in_place` (the CLI, before Hydra starts): ``resume=RUN_DIR`` (or a checkpoint
  in ``RUN_DIR/checkpoints/``) without ``hydra.run.dir=`` continues in ``RUN_DIR``, and Hydra
  leaves that folder's ``.hydra/`` (the run's own overrides) as it is.
- :func:`restored_config`: the run's saved config (the checkpoint's resolved ``rvqvae.config``)
  with only the schedule/length and machine keys of :data:`CHANGEABLE` taken from the resuming
  command; any other override that differs from the saved value stops with one line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rvqvae.training.config_upgrade import upgrade_saved_config

# rvqvae.training.checkpoint (torch, Lightning) is imported where a checkpoint is read:
# resume_in_place runs before every `python -m rvqvae.train`, `--help` included.

# Overrides a resuming command may change (a key, or a prefix ending in "."): how long and where
# the run goes on, never what it trains.
CHANGEABLE = (
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "trainer.limit_train_batches",
    "trainer.limit_val_batches",
    "trainer.check_val_every_n_epoch",
    "trainer.log_every_n_steps",
    "trainer.enable_progress_bar",
    "trainer.accelerator",
    "trainer.devices",
    "num_threads",
    "tags",
    "resume",
    "logger",
    "logger.",
    "callbacks",
    "callbacks.",
)
# Where this job runs, not what it trains: always from the resuming command.
_ENVIRONMENT = ("paths", "trainer.default_root_dir", "dataset.cache_dir", "resume", "num_threads")


class ResumeError(ValueError):
    """A resume that cannot keep the run's settings (the message names the setting)."""


def resume_folder(resume: str | None) -> Path | None:
    """The run folder ``resume=`` names: a folder, or the one holding ``checkpoints/x.ckpt``."""
    if resume in (None, "", "null", "auto"):
        return None
    path = Path(str(resume)).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and path.parent.name == "checkpoints":
        return path.parent.parent
    return None


def _value(arg: str) -> str:
    return arg.split("=", 1)[1].strip().strip("'\"")


def resume_in_place(args: Sequence[str]) -> list[str]:
    """Command-line overrides with ``hydra.run.dir`` set to the run folder being resumed (and
    ``hydra.output_subdir=null`` where it has a ``.hydra/``), unless the user chose a folder."""
    args = list(args)
    if {"-m", "--multirun"} & set(args):
        return args
    resume = next((_value(a) for a in reversed(args) if a.startswith("resume=")), None)
    run_dirs = [_value(a) for a in args if a.startswith("hydra.run.dir=")]
    folder = Path(run_dirs[-1]) if resume == "auto" and run_dirs else resume_folder(resume)
    if folder is None:
        return args
    if not run_dirs:
        args.append(f"hydra.run.dir='{folder.resolve()}'")
    same = not run_dirs or Path(run_dirs[-1]).resolve() == folder.resolve()
    if same and (folder / ".hydra").is_dir() and "hydra.output_subdir=null" not in args:
        args.append("hydra.output_subdir=null")
    return args


def _get(tree: Any, dotted: str) -> tuple[bool, Any]:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = copy.deepcopy(value)


def _merge(base: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """``base`` with every value of ``saved`` (saved wins; keys new since then come from base)."""
    out = copy.deepcopy(base)
    for key, value in saved.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def override_key(override: str) -> str:
    """The config key (or group) an override sets: ``+a.b@pkg=1`` -> ``a.b``."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]


def changeable(key: str) -> bool:
    return any(key == c or (c.endswith(".") and key.startswith(c)) for c in CHANGEABLE)


def saved_config(checkpoint_path: Path) -> dict[str, Any]:
    """The resolved config an ``rvqvae.train`` checkpoint carries (loaded safely), in today's
    layout (:func:`~rvqvae.training.config_upgrade.upgrade_saved_config`)."""
    from rvqvae.training.checkpoint import CheckpointError, load_checkpoint_file

    checkpoint = load_checkpoint_file(checkpoint_path)
    config = (checkpoint.get("rvqvae") or {}).get("config")
    if not isinstance(config, dict):
        raise CheckpointError(
            f"resume={checkpoint_path}: not a checkpoint of python -m rvqvae.train "
            "(no saved config)"
        )
    return upgrade_saved_config(config)


def saved_choices(run_dir: Path | None) -> dict[str, Any] | None:
    """The config-group options (``model: rvq2``, ...) a run was composed with, if recorded."""
    import yaml

    path = (run_dir or Path("/nonexistent")) / ".hydra" / "hydra.yaml"
    try:
        choices = yaml.safe_load(path.read_text())["hydra"]["runtime"]["choices"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    return dict(choices) if isinstance(choices, dict) else None


def restored_config(
    current: dict[str, Any],
    saved: dict[str, Any],
    overrides: Sequence[str],
    source: Path,
    choices: tuple[dict[str, Any], dict[str, Any] | None] = ({}, None),
) -> dict[str, Any]:
    """The run's ``saved`` config, with the changeable keys the resuming command overrides (and
    where this job runs) taken from ``current``; other overrides must match the saved value.

    ``choices`` (this job's and the saved run's config-group options) decide group overrides
    (``model=rvq4``); without the saved run's, a group override is not checked (saved wins)."""
    merged = _merge(current, saved)
    for key in _ENVIRONMENT:
        found, value = _get(current, key)
        if found:
            _set(merged, key, value)
    # the saved callbacks write into the saved run folder: into this job's instead
    old_dir, new_dir = _get(saved, "paths.output_dir")[1], _get(current, "paths.output_dir")[1]
    if isinstance(old_dir, str) and isinstance(new_dir, str) and "callbacks" in merged:
        merged["callbacks"] = _rebase(merged["callbacks"], old_dir, new_dir)
    for override in overrides:
        key = override_key(override)
        now_found, now = _get(current, key)
        if key.startswith("hydra") or not now_found:  # hydra.*, global presets (debug=...)
            continue
        if changeable(key):
            _set(merged, key, now)
            continue
        if key in choices[0]:  # a config group: compare the options chosen
            before = (choices[1] or {}).get(key, choices[0][key])
            if before != choices[0][key]:
                raise ResumeError(
                    f"{override}: cannot change on resume (the run of {source} used "
                    f"{key}={before}); resuming keeps its settings, only trainer.max_epochs "
                    "and other schedule/length keys may change"
                )
            continue
        was_found, was = _get(saved, key)
        if was_found and _canon(was) != _canon(now):
            raise ResumeError(
                f"{override}: cannot change on resume (the run of {source} was trained with "
                f"{key}={_short(was)}); resuming keeps its settings, only "
                "trainer.max_epochs and other schedule/length keys may change"
            )
    return merged


def _rebase(tree: Any, old_dir: str, new_dir: str) -> Any:
    """``tree`` with every path string under ``old_dir`` moved under ``new_dir``."""
    if isinstance(tree, dict):
        return {k: _rebase(v, old_dir, new_dir) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_rebase(v, old_dir, new_dir) for v in tree]
    if isinstance(tree, str) and (tree == old_dir or tree.startswith(old_dir.rstrip("/") + "/")):
        return new_dir + tree[len(old_dir) :]
    return tree


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any) -> str:
    text = _canon(value) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def restore_for_resume(cfg: DictConfig) -> tuple[DictConfig, Path | None]:
    """The job's config and checkpoint for ``resume=`` (the config as it was, see
    :func:`restored_config`); unchanged and None without a resume."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra_cfg = HydraConfig.get()
    from rvqvae.training.checkpoint import resolve_resume

    ckpt_path = resolve_resume(cfg.get("resume"), Path(hydra_cfg.runtime.output_dir))
    if ckpt_path is None:
        return cfg, None
    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    choices = (dict(hydra_cfg.runtime.choices), saved_choices(resume_folder(str(ckpt_path))))
    overrides = list(hydra_cfg.overrides.task)
    merged = restored_config(plain, saved_config(ckpt_path), overrides, ckpt_path, choices)
    return OmegaConf.create(merged), ckpt_path


def first_overrides(run_dir: Path, resumed_with: list[str]) -> dict[str, Any]:
    """A run resumed in its own folder keeps the overrides it was started with (its
    ``.hydra/overrides.yaml``, which the resume leaves as it was)."""
    import yaml

    try:
        first = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):
        first = None
    if not isinstance(first, list) or first == resumed_with:
        return {}
    return {"overrides": first, "resumed_with": resumed_with}
