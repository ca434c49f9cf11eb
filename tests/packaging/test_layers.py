"""The house's layers, drawn from rvqvae/'s imports: every module imports only from its own room
or from rooms on a lower floor, and no module imports itself round a cycle.

Every import counts, eager or lazy (inside a function) and also those under ``TYPE_CHECKING``:
a cycle a type checker sees is still two modules that cannot be understood one at a time. A
room is a module prefix (``rvqvae.codec``); the longest prefix in :data:`FLOORS` decides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Floors, lowest first; a room may import from its own room and from any lower floor.
FLOORS: list[set[str]] = [
    # base: atomic writes, timing, the safe torch.load, console lines and bars (no Lightning)
    {"rvqvae.atomic", "rvqvae.timing", "rvqvae.safeload", "rvqvae.progress", "rvqvae.console"},
    {"rvqvae.data", "rvqvae.models"},  # audio -> features; the model
    {"rvqvae.vocoder"},  # mel -> audio: Griffin-Lim and the trained vocoder's synthesis
    {"rvqvae.training"},  # the VQ-VAE's Lightning module, callbacks, checkpoints, jobs
    {"rvqvae.codec"},  # checkpoint -> codes files -> mel and audio
    {"rvqvae.prior"},  # the prior over code grids
    {"rvqvae.editing"},  # operations on code grids (uses codec, prior, vocoder)
    {"rvqvae.vocoder_training"},  # training a vocoder for a VQ-VAE run (its files and split)
    {"rvqvae.report"},  # run folders -> reports (reads files, imports nothing below)
    {"rvqvae.export"},  # ONNX / TorchScript export of the codec, vocoder and prior (+ its CLI)
    # entry points: the CLIs and the resolvers they register
    {
        "rvqvae.resolvers",
        "rvqvae.train",
        "rvqvae.train_prior",
        "rvqvae.train_vocoder",
        "rvqvae.encode",
        "rvqvae.decode",
        "rvqvae.evaluate",
        "rvqvae.generate",
        "rvqvae.evaluate_prior",
        "rvqvae.edit",
    },
    {"rvqvae.studio"},  # the Gradio page over run folders (nothing imports it)
    {"rvqvae"},  # the package's __init__ (registers the resolvers; matches no other module)
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, name: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` (module ``name``) imports: ``from P import
    X`` counts as the submodule ``P.X`` where that is a module, else as ``P``; relative
    imports are resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            }
    return (found & modules) - {name}


def import_graph() -> dict[str, set[str]]:
    """module -> the rvqvae modules it imports."""
    paths = {module_name(p): p for p in sorted((REPO / "rvqvae").rglob("*.py"))}
    return {m: imported_modules(p, m, set(paths)) for m, p in paths.items()}


def floor_of(module: str) -> tuple[int, str]:
    rooms = [(len(r), i, r) for i, floor in enumerate(FLOORS) for r in floor]
    matches = [
        (n, i, r)
        for n, i, r in rooms
        if module == r or (r != "rvqvae" and module.startswith(r + "."))
    ]
    if not matches:
        pytest.fail(f"{module} is in no room: add its room to FLOORS in {Path(__file__).name}")
    _, floor, room = max(matches)
    return floor, room


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_from_a_higher_floor() -> None:
    upward = []
    for module, targets in import_graph().items():
        floor, room = floor_of(module)
        for target in sorted(targets):
            t_floor, t_room = floor_of(target)
            # ``import rvqvae`` (registering the resolvers) is allowed from anywhere
            if t_room != room and t_floor >= floor and target != "rvqvae":
                upward.append(f"{module} (floor {floor}) -> {target} (floor {t_floor})")
    assert not upward, "imports that run up or across the layers:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The two checks fail where they should: on the graph of a made-up pair of modules."""
    graph = {"rvqvae.data.a": {"rvqvae.codec.b"}, "rvqvae.codec.b": {"rvqvae.data.a"}}
    assert cycles(graph) == [["rvqvae.codec.b", "rvqvae.data.a"]]
    assert floor_of("rvqvae.data.a")[0] < floor_of("rvqvae.codec.b")[0]
    # relative imports resolve to absolute module names
    src = tmp_path / "mod.py"
    src.write_text("from .chunks import x\nfrom ..models import vqvae\nimport rvqvae.atomic\n")
    known = {"rvqvae.data.chunks", "rvqvae.models", "rvqvae.models.vqvae", "rvqvae.atomic"}
    assert imported_modules(src, "rvqvae.data.mod", known) == {
        "rvqvae.data.chunks",
        "rvqvae.models.vqvae",
        "rvqvae.atomic",
    }
