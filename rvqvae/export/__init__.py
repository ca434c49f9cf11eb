"""ONNX / TorchScript export of a trained run: inference-only graphs over the trained tensors,
the mel front end written beside them, a manifest, and equality checks against the library.

``python -m rvqvae.export ckpt=... format=onnx|torchscript parts=[encoder,decoder,vocoder,prior]``
(:mod:`rvqvae.export.__main__`).
"""

from __future__ import annotations

from rvqvae.codec.format import CodecError


class ExportError(CodecError):
    """A part that cannot be exported, or an export job that cannot run (one line; the CLIs
    print a :class:`CodecError`'s message as it is)."""
