"""Saved run configs of older versions in today's layout, so their runs still resume.

Before the optimizer, scheduler and callbacks became config nodes, a run saved
``module.learning_rate``/``weight_decay``/``lr_schedule``/``warmup_steps`` and the flat
``callbacks.checkpoint_interval``/``max_checkpoints``/``preview_interval``/``preview_chunks``/
``griffin_lim_iters``. :func:`upgrade_saved_config` moves them to ``optimizer.*``,
``scheduler`` and ``callbacks.checkpoints.*``/``callbacks.previews.*``, and points callback
nodes whose class moved (:data:`MOVED_TARGETS`) at its new home.
"""

from __future__ import annotations

import copy
from typing import Any

# old flat callbacks key -> (node, key of the node)
OLD_CALLBACK_KEYS = {
    "checkpoint_interval": ("checkpoints", "interval"),
    "max_checkpoints": ("checkpoints", "max_checkpoints"),
    "preview_interval": ("previews", "interval"),
    "preview_chunks": ("previews", "num_chunks"),
    "griffin_lim_iters": ("previews", "griffin_lim_iters"),
}
# old module key -> new key (lr_schedule/warmup_steps become the scheduler node)
OLD_MODULE_KEYS = {"learning_rate": "optimizer.lr", "weight_decay": "optimizer.weight_decay"}
# callback classes that moved: old ``_target_`` -> new (the console's Lightning callbacks left
# rvqvae/console.py so that the CLIs which train nothing start without Lightning)
MOVED_TARGETS = {
    "rvqvae.console.StartLine": "rvqvae.training.console_callbacks.StartLine",
    "rvqvae.console.OneLineProgressBar": "rvqvae.training.console_callbacks.OneLineProgressBar",
}
COSINE_TARGET = "rvqvae.training.schedule.warmup_cosine"
ADAMW_TARGET = "torch.optim.AdamW"  # the only optimizer of those versions


def new_key(old: str) -> str | None:
    """Today's name of a key older versions used (``module.learning_rate`` -> ``optimizer.lr``),
    None for a key that did not move."""
    group, _, name = old.partition(".")
    if group == "module" and name in OLD_MODULE_KEYS:
        return OLD_MODULE_KEYS[name]
    if group == "module" and name in ("lr_schedule", "warmup_steps"):
        return "scheduler" if name == "lr_schedule" else "scheduler.warmup_steps"
    if group == "callbacks" and name in OLD_CALLBACK_KEYS:
        return "callbacks.{}.{}".format(*OLD_CALLBACK_KEYS[name])
    return None


def upgrade_saved_config(saved: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with the keys of older versions moved to today's nodes (a copy; a config in
    today's layout comes back unchanged)."""
    config = copy.deepcopy(saved)
    module = config.get("module")
    if isinstance(module, dict) and any(k in module for k in (*OLD_MODULE_KEYS, "lr_schedule")):
        optimizer: dict[str, Any] = {"_target_": ADAMW_TARGET, "_partial_": True}
        for old, new in OLD_MODULE_KEYS.items():
            if old in module:
                optimizer[new.split(".", 1)[1]] = module.pop(old)
        config.setdefault("optimizer", optimizer)
        schedule = module.pop("lr_schedule", "none")
        warmup = module.pop("warmup_steps", 0)
        if "scheduler" not in config:
            config["scheduler"] = (
                {"_target_": COSINE_TARGET, "_partial_": True, "warmup_steps": warmup}
                if schedule == "cosine"
                else None
            )
    callbacks = config.get("callbacks")
    if isinstance(callbacks, dict):
        for old, (node, key) in OLD_CALLBACK_KEYS.items():
            if old in callbacks and not isinstance(callbacks[old], dict):
                callbacks.setdefault(node, {})[key] = callbacks.pop(old)
        for node in callbacks.values():
            if isinstance(node, dict) and node.get("_target_") in MOVED_TARGETS:
                node["_target_"] = MOVED_TARGETS[node["_target_"]]
    return config
