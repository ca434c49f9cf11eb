"""Writing a graph as ONNX or TorchScript, and running an exported file back.

ONNX goes through the TorchScript-based exporter (``torch.onnx.export(dynamo=False)``): it
needs no extra package and keeps the shape arithmetic of the graphs (padding to a multiple of
16, ``frames * hop``) dynamic. TorchScript files are ``torch.jit.trace`` of the same graphs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rvqvae.export import ExportError

OPSET = 17
FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


@dataclass
class Tensorspec:
    """One input or output: name, shape (ints, or names of dynamic axes) and dtype."""

    name: str
    shape: list[int | str]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass
class Graph:
    """A module ready to export: example inputs, described inputs and outputs, notes."""

    part: str
    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: list[Tensorspec]
    outputs: list[Tensorspec]
    notes: dict[str, Any] = field(default_factory=dict)

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {
            t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)}
            for t in [*self.inputs, *self.outputs]
        }


def write_graph(graph: Graph, folder: Path, fmt: str) -> Path:
    """Export ``graph`` into ``folder/<part>.onnx`` or ``.pt``; returns the path."""
    path = folder / f"{graph.part}{SUFFIX[fmt]}"
    module = graph.module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic, exporter notices
        if fmt == "onnx":
            torch.onnx.export(
                module,
                graph.example,
                str(path),
                input_names=[t.name for t in graph.inputs],
                output_names=[t.name for t in graph.outputs],
                dynamic_axes=graph.dynamic_axes(),
                opset_version=OPSET,
                dynamo=False,
            )
        else:
            torch.jit.trace(module, graph.example, check_trace=False).save(str(path))
    return path


Runner = Callable[..., list[np.ndarray]]


def load_runner(path: Path, input_names: Sequence[str], threads: int | None = None) -> Runner:
    """A function ``run(*arrays) -> [outputs]`` over an exported file (onnxruntime on CPU for
    ``.onnx``, ``torch.jit.load`` for ``.pt``)."""
    if Path(path).suffix == ".onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportError(
                "running .onnx files needs onnxruntime: pip install -e '.[export]' (or check=false)"
            ) from None

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def run_onnx(*arrays: np.ndarray) -> list[np.ndarray]:
            return session.run(None, dict(zip(input_names, arrays)))

        return run_onnx
    module = torch.jit.load(str(path)).eval()

    def run_script(*arrays: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*(torch.from_numpy(np.asarray(a)) for a in arrays))
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.numpy() for o in outs]

    return run_script
