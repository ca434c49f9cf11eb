"""One export job: the asked parts of a run as ONNX or TorchScript files, the mel front end
beside them, each file checked against the library on a probe signal, and ``manifest.json``.

A part that cannot be exported is skipped with one line naming it and the reason (also in the
manifest's ``skipped``); the job fails only when no part was exported.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from rvqvae.codec.model import Codec
from rvqvae.export import ExportError
from rvqvae.export.check import check_graph, probe_mel
from rvqvae.export.formats import FORMATS, OPSET, load_runner, write_graph
from rvqvae.export.frontend import frontend_spec, write_frontend
from rvqvae.export.parts import PARTS, build_graph

log = logging.getLogger("rvqvae.export")
MANIFEST = "manifest.json"


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("rvqvae", "torch", "numpy", "onnx", "onnxruntime", "vector-quantize-pytorch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_parts(value: Any) -> list[str]:
    """``parts=[encoder,decoder]`` or ``parts=encoder,decoder`` -> validated names."""
    names = [str(p).strip() for p in (value.split(",") if isinstance(value, str) else value)]
    unknown = [n for n in names if n not in PARTS]
    if unknown or not names:
        raise ExportError(f"parts: unknown {', '.join(unknown) or '(none)'}; choose from {PARTS}")
    return list(dict.fromkeys(names))


def export_run(cfg: dict[str, Any], output: Path) -> dict[str, Any]:
    """Export ``cfg['parts']`` of ``cfg['ckpt']`` in ``cfg['format']`` into ``output``;
    returns the manifest (also written as ``output/manifest.json``)."""
    fmt = str(cfg.get("format", "onnx"))
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    parts = parse_parts(cfg.get("parts", list(PARTS)))
    codec = Codec.from_checkpoint(cfg["ckpt"])
    graphs, skipped = [], {}
    for part in parts:
        try:
            graphs.append(build_graph(part, codec, cfg))
        except ExportError as exc:
            skipped[part] = str(exc)
            log.warning("cannot export %s: %s", part, exc)
    if not graphs:
        raise ExportError(f"no part exported: {'; '.join(f'{k}: {v}' for k, v in skipped.items())}")
    output.mkdir(parents=True, exist_ok=True)
    frontend = write_frontend(output, codec.settings, codec.normalize_peak)
    mel = probe_mel(codec.settings) if cfg.get("check", True) else None
    exported: dict[str, Any] = {}
    for graph in graphs:
        try:
            path = write_graph(graph, output, fmt)
        except Exception as exc:  # an operator or option the exporter rejects
            first = (str(exc).strip().splitlines() or [""])[0]
            skipped[graph.part] = f"the {fmt} exporter rejected it ({type(exc).__name__}: {first})"
            log.warning("cannot export %s: %s", graph.part, skipped[graph.part])
            continue
        entry: dict[str, Any] = {
            "file": path.name,
            "sha256": _sha256(path),
            "inputs": [t.to_dict() for t in graph.inputs],
            "outputs": [t.to_dict() for t in graph.outputs],
            "notes": graph.notes,
        }
        if mel is not None:
            run = load_runner(path, [t.name for t in graph.inputs])
            figures = check_graph(graph, run, codec, mel)
            entry["check"] = {"probe_frames": int(mel.shape[-1]), **figures}
        exported[graph.part] = entry
        checked = f" (check on a probe signal: {entry['check']})" if "check" in entry else ""
        log.info("exported %s -> %s%s", graph.part, path, checked)
    if not exported:
        raise ExportError(f"no part exported: {'; '.join(f'{k}: {v}' for k, v in skipped.items())}")
    manifest = {
        "format": fmt,
        "opset": OPSET if fmt == "onnx" else None,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "vqvae": {
            "checkpoint": str(codec.path),
            "weights_sha256": codec.weights_sha256,
            "model_config": codec.model_config,
            "num_quantizers": codec.model.num_quantizers,
            "codebook_size": codec.model.codebook_size,
            "downsample": 16,
        },
        "mel": frontend_spec(codec.settings, codec.normalize_peak),
        "frontend_files": [p.name for p in frontend],
        "parts": exported,
        "skipped": skipped,
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest
