"""What an export writes beside the models: manifest.json and the mel front end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ORT_TYPES = {"float32": "tensor(float)", "int64": "tensor(int64)"}


def test_manifest_names_every_input_output_and_the_model(onnx_export: Path) -> None:
    import onnxruntime as ort

    from rvqvae.codec.model import Codec

    manifest = json.loads((onnx_export / "manifest.json").read_text())
    codec = Codec.from_checkpoint(manifest["vqvae"]["checkpoint"])
    assert manifest["vqvae"]["weights_sha256"] == codec.weights_sha256
    assert manifest["format"] == "onnx" and manifest["opset"] >= 17
    assert manifest["versions"]["onnxruntime"] == ort.__version__
    assert manifest["skipped"] == {}
    for part, entry in manifest["parts"].items():
        session = ort.InferenceSession(str(onnx_export / entry["file"]))
        for declared, actual in (
            (entry["inputs"], session.get_inputs()),
            (entry["outputs"], session.get_outputs()),
        ):
            assert [t["name"] for t in declared] == [a.name for a in actual], part
            for t, a in zip(declared, actual):
                # named axes are dynamic in the graph; a fixed size it knows is the declared one
                assert len(t["shape"]) == len(a.shape), (part, t["name"])
                for d, g in zip(t["shape"], a.shape):
                    assert (
                        not isinstance(g, int)
                        if isinstance(d, str)
                        else g in (d, None) or isinstance(g, str)
                    ), (part, t["name"], a.shape)
                assert a.type == ORT_TYPES[t["dtype"]]
        check = entry["check"]  # the job's own check on its probe signal
        assert check.get("code_mismatches", 0) == 0
        assert all(v <= 1e-4 for k, v in check.items() if k.endswith("max_abs")), (part, check)


def test_the_mel_front_end_is_written_exactly(onnx_export: Path) -> None:
    import torch

    from rvqvae.data.mel import MelSettings, mel_filterbank

    manifest = json.loads((onnx_export / "manifest.json").read_text())
    spec = json.loads((onnx_export / "mel.json").read_text())
    assert spec == manifest["mel"]
    settings = MelSettings(
        **{
            k: spec[k]
            for k in ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "power")
        }
    )
    assert np.array_equal(np.load(onnx_export / spec["filterbank_file"]), mel_filterbank(settings))
    assert np.array_equal(
        np.load(onnx_export / spec["window_file"]), torch.hann_window(spec["n_fft"]).numpy()
    )
