"""Does projecting the vocoder's output onto its input mel close the mel-consistency gap?

    .venv/bin/python experiments/vocoder/mel_projection.py RUN [VOCODER_CKPT|auto] [FILES]

On the first FILES (default 8) validation files of the VQ-VAE run RUN (first 4 s), from the
analysis mel and from the VQ-VAE's reconstruction: Griffin-Lim (32 iterations), the vocoder,
the ideal-phase reference and the vocoder followed by a *mel projection* - multiplicative
non-negative least-squares steps (the update ``mel_to_magnitude`` uses) that rescale the
vocoder's STFT power so that its mel matches the input mel, keeping the vocoder's phase and
fine structure - ``pSxR``: S steps per round, R rounds (rounds after the first re-analyse the
audio, i.e. Griffin-Lim-like iterations from the vocoder's output). Prints LSD at 256 / 1024
/ 8192, mel consistency, x real time and the share of the Griffin-Lim -> ideal-phase gap closed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

VARIANTS = ((1, 1), (5, 1), (50, 1), (5, 2), (5, 4), (50, 4))  # (steps, rounds)


def main() -> None:
    from rvqvae.codec.evaluation import synthesis_clips
    from rvqvae.codec.model import Codec
    from rvqvae.data.mel import _hann
    from rvqvae.vocoder.griffinlim import _sparse_filterbanks
    from rvqvae.vocoder.metrics import compare_synthesis
    from rvqvae.vocoder.synthesize import Synthesizer, build_synthesizer
    from rvqvae.vocoder_training.data import VocoderDataModule

    run = Path(sys.argv[1])
    vocoder = sys.argv[2] if len(sys.argv) > 2 else "auto"
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    torch.set_num_threads(1)
    ckpt = run / "checkpoints" / "best.ckpt"
    codec = Codec.from_checkpoint(ckpt)
    s = codec.settings
    data = VocoderDataModule(codec, input="mel")
    data.setup()
    clips = synthesis_clips(codec, [f.audio for f in data.val][:files], 4.0)
    synth = build_synthesizer(vocoder, s, ckpt)
    generator = synth.vocoder.generator
    fb, fb_t = _sparse_filterbanks(s)  # [n_mels, F], [F, n_mels]
    window = _hann(s.n_fft)

    def project(spec: torch.Tensor, mel: torch.Tensor, steps: int) -> torch.Tensor:
        target = torch.expm1(mel.clamp(min=0))  # mel power [n_mels, T]
        power = spec.abs().square() + 1e-12  # [F, T]
        numer = fb_t @ target
        for _ in range(steps):
            power = power * numer / ((fb_t @ (fb @ power)) + 1e-10)
        return torch.polar(power.sqrt(), spec.angle())

    def projected(steps: int, rounds: int):
        def make(mel: np.ndarray, length: int) -> np.ndarray:
            m = torch.from_numpy(np.asarray(mel, np.float32))
            t = m.shape[1]
            with torch.no_grad():
                spec = generator.spectrum(m[None])[0]
            for r in range(rounds):
                if r:
                    y = torch.istft(
                        spec, s.n_fft, s.hop_length, window=window, length=t * s.hop_length
                    )
                    spec = torch.stft(y, s.n_fft, s.hop_length, window=window, return_complex=True)
                    spec = spec[:, :t]
                spec = project(spec, m, steps)
            y = torch.istft(spec, s.n_fft, s.hop_length, window=window, length=length)
            return y.numpy().astype(np.float32)

        return make

    synths = {"griffinlim": Synthesizer(s, None, 32), "vocoder": synth}
    synths.update({f"p{a}x{b}": projected(a, b) for a, b in VARIANTS})
    result = compare_synthesis(clips, synths, s)
    for source in ("from_recon", "from_mel"):
        print(source)
        for name, row in result[source].items():
            lsd = row["lsd"]
            print(
                f"  {name:12s} LSD 256 {lsd['256']:.3f} 1024 {lsd['1024']:.3f} "
                f"8192 {lsd['8192']:.3f}  mel consistency {row['mel_consistency']:.3f}  "
                f"x real time {row.get('x_realtime') or 0:.0f}"
            )
        for name, gaps in result["gap_closed"][source].items():
            shown = {n: None if v is None else round(v, 2) for n, v in gaps.items()}
            print(f"  gap closed {name}: 256 {shown['256']}, 8192 {shown['8192']}")


if __name__ == "__main__":
    main()
