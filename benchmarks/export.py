"""Exported models against PyTorch eager on the CPU: encode (mel -> codes), decode (codes ->
mel) and the vocoder (mel -> audio), onnxruntime / eager time ratios, plus the equality maxima.

    .venv/bin/python benchmarks/export.py [--ckpt RUN/checkpoints/best.ckpt] [--seconds 60]

Without ``--ckpt``: the default model (codebooks k-means-initialised on random mels) and a
default-size vocoder, untrained (speed only). Both sides run on the same number of threads
(``--threads``, default 2); each figure is the best of ``--repeats`` calls on one whole-file mel
of ``--seconds`` (eager: ``encode_grid`` / ``decode_grid`` / the generator with torch.istft).
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


def _codec(ckpt: str | None):  # -> (Codec, VocosGenerator)
    import torch

    from rvqvae.codec.model import Codec
    from rvqvae.data.mel import MelSettings, mel_filterbank
    from rvqvae.vocoder.checkpoint import installed_vocoder, load_vocoder
    from rvqvae.vocoder.model import VocosGenerator

    if ckpt:
        codec = Codec.from_checkpoint(ckpt)
        voc = installed_vocoder(ckpt)
        return codec, load_vocoder(voc).generator if voc else None
    _, plain = compose_plain([], Path(tempfile.mkdtemp(prefix="rvqvae-bench-export-")))
    model = build_model(plain)
    model.quantizer.init_codebooks(model.encode(random_mels(16)).detach().flatten(2).mT)
    settings = MelSettings()
    codec = Codec(model.eval(), settings, 1.0, True, {})
    generator = VocosGenerator()
    generator.set_mel_basis(torch.from_numpy(mel_filterbank(settings).copy()))
    return codec, generator.eval()


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(ckpt: str | None = None, seconds: float = 60.0, threads: int = 2, repeats: int = 3) -> dict:
    import numpy as np
    import torch

    from rvqvae.codec.grid import decode_grid, encode_grid
    from rvqvae.export.formats import load_runner, write_graph
    from rvqvae.export.parts import decoder_graph, encoder_graph, generator_graph

    torch.set_num_threads(threads)
    codec, generator = _codec(ckpt)
    model, s = codec.model, codec.settings
    frames = s.frames_for(int(seconds * s.sample_rate))
    mel = (torch.rand(1, s.n_mels, frames, generator=torch.Generator().manual_seed(0)) * 3).float()
    graphs = [encoder_graph(codec), decoder_graph(codec)]
    if generator is not None:
        graphs.append(generator_graph(generator, s, {}))
    folder = Path(tempfile.mkdtemp(prefix="rvqvae-bench-export-"))
    out: dict = {"export.seconds": seconds, "export.threads": threads}
    grid = encode_grid(model, mel[0])
    codes = grid[None].numpy()
    levels = np.array(model.num_quantizers, np.int64)
    eager = {
        "encoder": lambda: encode_grid(model, mel[0]),
        "decoder": lambda: decode_grid(model, grid, frames),
        "vocoder": lambda: generator(mel),
    }
    feeds = {"encoder": (mel.numpy(),), "decoder": (codes, levels), "vocoder": (mel.numpy(),)}
    for graph in graphs:
        path = write_graph(graph, folder, "onnx")
        run_onnx = load_runner(path, [t.name for t in graph.inputs], threads=threads)
        with torch.inference_mode():
            eager_s = _best(eager[graph.part], repeats)
            want = eager[graph.part]()
        onnx_s = _best(lambda r=run_onnx, f=feeds[graph.part]: r(*f), repeats)
        got = run_onnx(*feeds[graph.part])[0]
        want = want.numpy()[None] if graph.part == "decoder" else want.numpy()
        got = got[..., :frames] if graph.part == "decoder" else got
        encoder = graph.part == "encoder"
        diff = float((got[0] != want).sum()) if encoder else float(np.abs(got - want).max())
        p = f"export.{graph.part}"
        out |= {
            f"{p}.eager_x_realtime": seconds / eager_s,
            f"{p}.onnx_x_realtime": seconds / onnx_s,
        }
        out |= {f"{p}.onnx_speedup": eager_s / onnx_s}
        out[f"{p}.code_mismatches" if graph.part == "encoder" else f"{p}.max_abs_diff"] = diff
        print(
            f"{graph.part}: eager {seconds / eager_s:.0f}x, onnxruntime {seconds / onnx_s:.0f}x "
            f"real time (onnxruntime / eager speed {eager_s / onnx_s:.2f}); "
            f"{'code mismatches' if graph.part == 'encoder' else 'max |diff|'} {diff:.3g}"
        )
    out["export.load_average"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_figures(run(args.ckpt, args.seconds, args.threads, args.repeats))


if __name__ == "__main__":
    main()
