"""Codec speed in times real time: encode (mel -> codes), decode (codes -> mel), and decode
with Griffin-Lim (codes -> audio), on the default model (untrained weights: speed only).

    .venv/bin/python benchmarks/codec.py [--seconds 32]

Uses ``ConvVQVAE.encode/quantize``, ``decode_codes`` and ``rvqvae.vocoder.griffinlim.mel_to_audio``
directly (the ``rvqvae.codec`` API wraps the same calls). Chunks are 1 s mels ``[1, 128, 94]``
at 48 kHz / hop 512, batched 32 at a time; Griffin-Lim uses 32 iterations per chunk.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compose_plain, load_average, print_figures  # noqa: E402
from train_step import build_model, random_mels  # noqa: E402


def run(seconds: int = 32, gl_chunks: int = 4, gl_iters: int = 32) -> dict:
    import torch

    from rvqvae.data.mel import MelSettings
    from rvqvae.vocoder.griffinlim import mel_to_audio

    _, plain = compose_plain([], Path(tempfile.mkdtemp(prefix="rvqvae-bench-codec-")))
    model = build_model(plain)
    mels = random_mels(seconds)
    model.quantizer.init_codebooks(model.encode(mels).detach().flatten(2).mT)
    model.eval()
    settings = MelSettings()
    with torch.inference_mode():

        def encode() -> tuple[torch.Tensor, tuple[int, int]]:
            codes = []
            for batch in mels.split(32):
                emb = model.encode(batch)
                codes.append(model.quantize(emb)[1])
            return torch.cat(codes), tuple(emb.shape[-2:])

        encode()
        t = time.perf_counter()
        codes, spatial = encode()
        enc_s = time.perf_counter() - t

        def decode() -> torch.Tensor:
            return torch.cat([model.decode_codes(c, spatial, (128, 94)) for c in codes.split(32)])

        decode()
        t = time.perf_counter()
        recon = decode()
        dec_s = time.perf_counter() - t
        mel_to_audio(recon[0, 0], settings, n_iter=gl_iters)
        t = time.perf_counter()
        for k in range(gl_chunks):
            mel_to_audio(recon[k, 0], settings, n_iter=gl_iters)
        gl_s = (time.perf_counter() - t) / gl_chunks  # per 1 s chunk
    per_chunk_dec = dec_s / seconds
    results = {
        "codec.encode_x_realtime": seconds / enc_s,
        "codec.decode_x_realtime": seconds / dec_s,
        "codec.decode_gl_x_realtime": 1.0 / (per_chunk_dec + gl_s),
        "codec.griffin_lim_iters": gl_iters,
        "codec.load_average": load_average(),
    }
    print(
        f"codec ({seconds} s of 1 s chunks): encode {results['codec.encode_x_realtime']:.0f}x, "
        f"decode {results['codec.decode_x_realtime']:.0f}x, decode + Griffin-Lim "
        f"({gl_iters} it) {results['codec.decode_gl_x_realtime']:.1f}x real time  "
        f"[load {load_average()}]"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=32)
    print_figures(run(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
