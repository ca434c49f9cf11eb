"""Synthesis speed in times real time: the trained-vocoder path (``Synthesizer`` with a
``VocosGenerator``, block-wise) beside Griffin-Lim (32 iterations), same mel, same run.

    .venv/bin/python benchmarks/vocoder.py [--seconds 30] [--size small|large] [--ckpt PATH]

Without ``--ckpt`` the generator has the ``conf/vocoder_presets/<size>.yaml`` shape and random
weights (speed only: the cost does not depend on the weights). The mel is a random 48 kHz /
hop 512 log-mel; both run with torch's default thread count (2 on the 2-core machine); the
best of ``--rounds`` rounds is reported. Target: the vocoder >= 50x real time on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, print_figures  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _generator(size: str, ckpt: str | None):  # noqa: ANN202
    from rvqvae.data.mel import MelSettings
    from rvqvae.vocoder.checkpoint import LoadedVocoder, load_vocoder
    from rvqvae.vocoder.model import VocosGenerator

    if ckpt:
        return load_vocoder(ckpt)
    presets = REPO / "conf" / "vocoder_presets"
    shape = yaml.safe_load((presets / f"{size}.yaml").read_text())["model"]
    if size != "small":
        base = yaml.safe_load((presets / "small.yaml").read_text())["model"]
        shape = {**base, **shape}
    s = MelSettings()
    return LoadedVocoder(VocosGenerator(s.n_mels, s.n_fft, s.hop_length, **shape).eval(), s)


def run(seconds: float = 30.0, size: str = "small", ckpt: str | None = None, rounds: int = 3):
    """``{vocoder.x_realtime, vocoder.griffin_lim_x_realtime, ...}`` for ``seconds`` of mel."""
    import torch

    from rvqvae.vocoder.synthesize import Synthesizer

    loaded = _generator(size, ckpt)
    s = loaded.settings
    frames = s.frames_for(int(seconds * s.sample_rate))
    mel = (torch.rand(s.n_mels, frames, generator=torch.Generator().manual_seed(0)) * 4).numpy()
    results = {}
    for name, synth in (
        ("vocoder", Synthesizer(s, loaded)),
        ("griffin_lim", Synthesizer(s, None, 32)),
    ):
        synth(mel[:, :200])  # warm-up
        best = float("inf")
        for _ in range(rounds if name == "vocoder" else 1):
            t = time.perf_counter()
            synth(mel)
            best = min(best, time.perf_counter() - t)
        results[f"vocoder.{name}_x_realtime"] = seconds / best
    results["vocoder.params"] = loaded.generator.num_parameters
    results["vocoder.size"] = size if not ckpt else str(ckpt)
    results["vocoder.torch_threads"] = torch.get_num_threads()
    results["vocoder.load_average"] = load_average()
    print(
        f"synthesis of {seconds:g} s at {s.sample_rate} Hz: vocoder ({results['vocoder.size']}, "
        f"{results['vocoder.params'] / 1e6:.2f} M params) "
        f"{results['vocoder.vocoder_x_realtime']:.0f}x real time, Griffin-Lim (32 it) "
        f"{results['vocoder.griffin_lim_x_realtime']:.1f}x  [{torch.get_num_threads()} threads, "
        f"load {load_average()}]"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="small")
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print_figures(run(args.seconds, args.size, args.ckpt, args.rounds))


if __name__ == "__main__":
    main()
