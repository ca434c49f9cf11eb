"""The README's "Layout" section matches the folders: every room of rvqvae/, every module in it,
every config group and every benchmark script is named there, and nothing named there is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_every_module_and_room_is_named() -> None:
    block = layout_block()
    words = set(re.findall(r"[\w.]+", block))
    missing = []
    for path in sorted((REPO / "rvqvae").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        if path.name not in words:
            missing.append(str(path.relative_to(REPO)))
    for room in sorted(p for p in (REPO / "rvqvae").iterdir() if (p / "__init__.py").is_file()):
        if f"{room.name}/" not in block:
            missing.append(f"rvqvae/{room.name}/")
    for group in sorted(p for p in (REPO / "conf").iterdir() if p.is_dir()):
        if f"{group.name}/" not in block:
            missing.append(f"conf/{group.name}/")
    for script in sorted((REPO / "benchmarks").glob("*.py")):
        if script.name not in words:
            missing.append(str(script.relative_to(REPO)))
    assert not missing, f"not in the README's Layout: {missing}"


def test_every_named_module_exists() -> None:
    named = set(re.findall(r"\b(\w+\.py)\b", layout_block()))
    existing = {p.name for p in (REPO / "rvqvae").rglob("*.py")}
    existing |= {p.name for p in (REPO / "benchmarks").glob("*.py")}
    existing |= {p.name for p in (REPO / "tests").rglob("*.py")}
    existing |= {p.name for p in (REPO / "scripts").glob("*")}
    gone = sorted(named - existing - {"slurm_local.sh"})
    assert not gone, f"the README's Layout names modules that do not exist: {gone}"
