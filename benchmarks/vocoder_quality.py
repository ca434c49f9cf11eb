"""Griffin-Lim vs a trained vocoder vs the ideal-phase reference, per kind of sound.

    .venv/bin/python benchmarks/vocoder_quality.py VQVAE_RUN [--vocoder auto|PATH]
        [--max-files 8] [--seconds 4] [--out FILE.json]

On the VQ-VAE run's own validation files (its split rebuilt from the checkpoint), grouped by
their folder (``music``, ``speech``, ``effects`` on the real-audio dev set of
``benchmarks/realaudio.py``; one group on the synth set), at most ``--max-files`` per group,
the first ``--seconds`` of each: log-spectral distance per n_fft (256 ... 8192), mel
consistency, x real time, ViSQOL against the original (``rvqvae.vocoder.perceptual.visqol``;
nearly blind to phase, for completeness) and, for speech, wideband PESQ (``pesq``, 16 kHz),
from the analysis mel and from the VQ-VAE's reconstruction. Prints one table per group and
writes everything to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PESQ_RATE = 16_000
SPEECH = "speech"


def pesq_wb(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float | None:
    """Wideband PESQ (MOS-LQO, 1.04 ... 4.64) at 16 kHz; None where PESQ finds no speech."""
    import soxr
    from pesq import pesq
    from pesq.cypesq import NoUtterancesError

    n = min(reference.shape[0], degraded.shape[0])
    ref, deg = (
        soxr.resample(np.asarray(x[:n], np.float64), sample_rate, PESQ_RATE)
        for x in (reference, degraded)
    )
    try:
        return float(pesq(PESQ_RATE, ref, deg, "wb"))
    except NoUtterancesError:
        return None


def measure(run: Path, vocoder: str, max_files: int, seconds: float) -> dict[str, Any]:
    """``{"run", "vocoder", "kinds": {kind: compare_synthesis result}}``."""
    from rvqvae.codec.evaluation import synthesis_clips
    from rvqvae.codec.model import Codec
    from rvqvae.vocoder.metrics import compare_synthesis
    from rvqvae.vocoder.perceptual import visqol
    from rvqvae.vocoder.synthesize import Synthesizer, build_synthesizer
    from rvqvae.vocoder_training.data import VocoderDataModule

    ckpt = run / "checkpoints" / "best.ckpt"
    codec = Codec.from_checkpoint(ckpt)
    s = codec.settings
    data = VocoderDataModule(codec, input="mel")
    data.setup()
    by_kind: dict[str, list[np.ndarray]] = defaultdict(list)
    for f in data.val:
        kind = Path(f.name).parent.name
        if len(by_kind[kind]) < max_files:
            by_kind[kind].append(f.audio)
    synth = build_synthesizer(vocoder, s, ckpt)
    if synth.kind != "vocoder":
        raise SystemExit(f"{run}: no vocoder ({synth.describe()}): train one or pass --vocoder")
    synths = {"griffinlim": Synthesizer(s, None, 32), "vocoder": synth}
    out: dict[str, Any] = {"run": str(run), "vocoder": synth.describe(), "kinds": {}}
    for kind, audios in sorted(by_kind.items()):
        extra = {"visqol": lambda a, b: visqol(a, b, s.sample_rate)}
        if kind == SPEECH:
            extra["pesq_wb"] = lambda a, b: pesq_wb(a, b, s.sample_rate)
        clips = synthesis_clips(codec, audios, seconds)
        out["kinds"][kind] = compare_synthesis(clips, synths, s, extra=extra)
        print(table(kind, out["kinds"][kind]), flush=True)
    return out


def table(kind: str, result: dict[str, Any]) -> str:
    """A markdown table of one group: rows source x synthesiser."""
    extra = [k for k in ("visqol", "pesq_wb") if k in result["from_mel"]["griffinlim"]]
    head = ["source", "synth", "LSD 256", "LSD 1024", "LSD 8192", "mel cons.", *extra, "x RT"]
    lines = [f"### {kind} ({result['files']} files)", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" * len(head))
    for source in ("from_recon", "from_mel"):
        for name, row in result[source].items():
            cells = [source[5:], name, *(f"{row['lsd'][n]:.3f}" for n in ("256", "1024", "8192"))]
            cells.append(f"{row['mel_consistency']:.3f}")
            cells += ["—" if row.get(k) is None else f"{row[k]:.2f}" for k in extra]
            cells.append("—" if row.get("x_realtime") is None else f"{row['x_realtime']:.0f}")
            lines.append("| " + " | ".join(cells) + " |")
    gaps = result.get("gap_closed", {})
    for source, rows in gaps.items():
        g = rows.get("vocoder", {})
        shown = ", ".join(f"{n}: {v:.0%}" for n, v in g.items() if v is not None)
        lines.append(f"\ngap closed {source[5:]}: {shown}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a python -m rvqvae.train run folder")
    parser.add_argument("--vocoder", default="auto", help="auto (RUN/vocoder) or a .ckpt")
    parser.add_argument("--max-files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = measure(args.run, args.vocoder, args.max_files, args.seconds)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
