"""Whole-file code grids vs overlapping 1 s chunks: mel L1 of the codec round trip.

    .venv/bin/python benchmarks/grid_vs_chunks.py [--ckpt RUN/checkpoints/best.ckpt]
        [--fresh-files 16] [--fresh-seed 1] [--out benchmarks/results_grid.json]

``--ckpt`` defaults to the default run's ``outputs/runs/default/checkpoints/best.ckpt``.

Files: the run's validation files (its split rebuilt with ``MelDataModule(**dataset config of the
checkpoint)``) and ``--fresh-files`` synth files generated with another seed (never seen by the
run). Each file is read with the codec's streaming reader (peak-normalised, 48 kHz) and its true
log-mel ``[n_mels, F]`` is the streaming mel of the whole file (what the encoder sees).

Variants, each from the audio file to a decoded mel ``[n_mels, F]``:

- ``grid``: ``encode_file(layout="grid")`` + ``decode_to_mel`` (one whole-file grid, one pass).
- ``chunks-0.5`` / ``chunks-0.0``: ``encode_file(layout="chunks", overlap=...)`` +
  ``decode_to_mel`` (1 s chunks, sin^2 crossfade).
- ``grid-avg2`` (diagnostic): the mean of two grid decodes half a column (8 frames) apart, as
  many codes as ``chunks-0.5``: how much of the overlap's gain is the averaging of two decodes.

Figures per variant and file set: mean |decoded - true| over every mel element (frame-weighted),
its ratio to ``chunks-0.5``, ``norm_l1`` (the L1 divided by the L1 of predicting the
checkpoint's ``mean_train_mel`` averaged over time, per mel bin), the L1 on the first/last 16
frames of each file vs the rest (``edge_l1`` / ``interior_l1``), the bitrate actually spent
(code positions per second of audio x levels x log2(codebook size)), and encode + decode wall
time (reading and mel included; no Griffin-Lim; per file the fastest of ``--repeats`` runs).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, load_average, machine_info  # noqa: E402

VARIANTS = ("grid", "chunks-0.5", "chunks-0.0", "grid-avg2")
EDGE_FRAMES = 16


def true_mel(codec: Any, path: Path) -> Any:
    """The whole-file log-mel ``[n_mels, F]`` the encoder sees (streaming reader + mel)."""
    import numpy as np

    from rvqvae.data.io import AudioReader
    from rvqvae.data.mel import stream_mel

    reader = AudioReader(path, codec.settings.sample_rate, codec.normalize_peak)
    return np.concatenate(list(stream_mel(reader.blocks(), reader.num_samples, codec.settings)), 1)


def roundtrip(codec: Any, path: Path, variant: str) -> tuple[Any, float, int]:
    """Decoded mel ``[n_mels, F]`` of ``path``, encode + decode seconds, and code positions.

    ``grid-avg2`` is a diagnostic, not a codec layout: the mean of two whole-file grid decodes,
    the second of the mel delayed by 8 frames (half a column), i.e. two codes per position like
    chunks at 50 % overlap.
    """
    import torch

    from rvqvae.codec import decode_grid, decode_to_mel, encode_file, encode_grid

    t = time.perf_counter()
    if variant == "grid-avg2":
        mel = torch.from_numpy(true_mel(codec, path))
        n_mels, frames = mel.shape
        shifted = torch.cat([torch.zeros(n_mels, 8), mel], dim=1)
        g1, g2 = encode_grid(codec.model, mel), encode_grid(codec.model, shifted)
        a = decode_grid(codec.model, g1, frames, n_mels)
        b = decode_grid(codec.model, g2, frames + 8, n_mels)[:, 8:]
        return (
            ((a + b) / 2).numpy(),
            time.perf_counter() - t,
            g1[..., 0].numel() + g2[..., 0].numel(),
        )
    layout, overlap = ("grid", 0.0) if variant == "grid" else ("chunks", float(variant[7:]))
    codes = encode_file(codec, path, overlap=overlap, layout=layout)
    mel = decode_to_mel(codec, codes)
    return mel, time.perf_counter() - t, codes.codes.shape[0] * codes.codes.shape[1]


def validation_files(codec: Any) -> list[Path]:
    """The run's validation files: its split rebuilt from the checkpoint's dataset config."""
    from rvqvae.data.datamodule import MelDataModule

    ds = {k: v for k, v in codec.run_config["dataset"].items() if k != "_target_"}
    dm = MelDataModule(**ds)
    dm.setup()
    return list(dm.val_files)


def fresh_files(count: int, seed: int, sample_rate: int) -> list[Path]:
    from rvqvae.data.synth import generate_synth_dataset

    out = Path(tempfile.gettempdir()) / f"rvqvae-grid-bench-synth-{count}-{seed}"
    root = generate_synth_dataset(out, num_files=count, seed=seed, sample_rate=sample_rate)
    return sorted(root.glob("*.wav"))


def measure(codec: Any, files: list[Path], repeats: int = 3) -> dict[str, dict[str, float]]:
    """Per variant: summed errors over ``files`` turned into the table's figures."""
    import numpy as np

    if codec.mean_train_mel is None:
        raise SystemExit("the checkpoint has no mean_train_mel")
    mean_bins = codec.mean_train_mel[0].mean(dim=1).numpy()[:, None]  # [n_mels, 1]
    sums = {
        v: {"abs": 0.0, "edge": 0.0, "interior": 0.0, "seconds": 0.0, "pos": 0} for v in VARIANTS
    }
    n_el = n_edge = 0
    base = 0.0
    audio_s = 0.0
    for variant in VARIANTS:  # warm-up (first calls allocate and pick kernels): not timed
        roundtrip(codec, files[0], variant)
    for f in files:
        ref = true_mel(codec, f)
        n_mels, frames = ref.shape
        edge = np.zeros(frames, bool)
        edge[:EDGE_FRAMES] = edge[-EDGE_FRAMES:] = True
        n_el += ref.size
        n_edge += n_mels * int(edge.sum())
        base += float(np.abs(ref - mean_bins).sum())
        audio_s += frames * codec.settings.hop_length / codec.settings.sample_rate
        for variant in VARIANTS:
            mel, seconds, positions = roundtrip(codec, f, variant)
            for _ in range(repeats - 1):  # the fastest of `repeats` runs: other jobs share cores
                seconds = min(seconds, roundtrip(codec, f, variant)[1])
            err = np.abs(mel - ref)
            s = sums[variant]
            s["abs"] += float(err.sum())
            s["edge"] += float(err[:, edge].sum())
            s["interior"] += float(err[:, ~edge].sum())
            s["seconds"] += seconds
            s["pos"] += positions
    bits = codec.model.num_quantizers * math.log2(codec.model.codebook_size)
    out: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        s = sums[variant]
        out[variant] = {
            "mel_l1": s["abs"] / n_el,
            "norm_l1": s["abs"] / base,
            "edge_l1": s["edge"] / n_edge,
            "interior_l1": s["interior"] / max(1, n_el - n_edge),
            "files": len(files),
            "audio_s": audio_s,
            "codec_s": s["seconds"],
            "positions_per_s": s["pos"] / audio_s,
            "bitrate_bps": s["pos"] * bits / audio_s,
        }
    ref_l1 = out["chunks-0.5"]["mel_l1"]
    for row in out.values():
        row["ratio_to_chunks_0.5"] = row["mel_l1"] / ref_l1
    return out


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'variant':12s} {'mel L1':>7s} {'ratio':>6s} {'norm L1':>7s} {'edge L1':>7s} "
        f"{'inner L1':>8s} {'files':>5s} {'audio s':>7s} {'bit/s':>5s} {'enc+dec s':>9s}"
    )
    for name, r in rows.items():
        print(
            f"  {name:12s} {r['mel_l1']:7.4f} {r['ratio_to_chunks_0.5']:6.3f} {r['norm_l1']:7.4f} "
            f"{r['edge_l1']:7.4f} {r['interior_l1']:8.4f} {r['files']:5d} {r['audio_s']:7.1f} "
            f"{r['bitrate_bps']:5.0f} {r['codec_s']:9.2f}"
        )
    print("  (grid-avg2: diagnostic, two grids half a column apart averaged; not a codec layout)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ckpt", default=str(REPO / "outputs/runs/default/checkpoints/best.ckpt"))
    parser.add_argument("--fresh-files", type=int, default=16)
    parser.add_argument("--fresh-seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timing: fastest of N runs")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results_grid.json"))
    args = parser.parse_args()

    from rvqvae.codec import Codec

    codec = Codec.from_checkpoint(args.ckpt)
    sets = {
        "validation": validation_files(codec),
        f"fresh (seed {args.fresh_seed})": fresh_files(
            args.fresh_files, args.fresh_seed, codec.settings.sample_rate
        ),
    }
    results: dict[str, Any] = {
        "ckpt": str(args.ckpt),
        "weights_sha256": codec.weights_sha256,
        "machine": machine_info(),
        "sets": {},
    }
    for title, files in sets.items():
        rows = measure(codec, files, args.repeats)
        results["sets"][title] = {"files": [f.name for f in files], "variants": rows}
        print_table(f"{title}: {len(files)} files", rows)
    print(f"\n[load {load_average()}]")
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
