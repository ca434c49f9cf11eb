"""Encode and decode a WAV with an exported model: onnxruntime, numpy and soundfile only.

    python -m rvqvae.export ckpt=RUN/checkpoints/best.ckpt output=EXPORTED
    python examples/onnx_roundtrip.py EXPORTED input.wav OUT [--levels K]

Writes ``OUT.codes.npy`` (``[rows, columns, levels]``), ``OUT.mel.npy`` (the decoded log-mel)
and, when a vocoder was exported, ``OUT.wav``; prints one JSON line describing them. The mel
front end is computed here from ``mel.json`` + ``mel_filterbank.npy`` + ``mel_window.npy``
exactly as the training code does (centred Hann frames, zero padding, ``log1p`` of the mel
power). No torch and no rvqvae import: copy this file into another program.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import soundfile as sf

BLOCK_FRAMES = 1024  # frames per FFT call (bounded memory for long files)


def log_mel(audio: np.ndarray, spec: dict, fb: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``log1p(fb @ |rfft(window * frame)| ** power)`` ``[n_mels, ceil(len / hop)]`` float32;
    frame t centred on sample t * hop, zero padding outside the signal."""
    n_fft, hop = int(spec["n_fft"]), int(spec["hop_length"])
    frames = -(-len(audio) // hop)
    half = n_fft // 2
    padded = np.zeros((frames - 1) * hop + n_fft, np.float64)
    take = min(len(audio), len(padded) - half)
    padded[half : half + take] = audio[:take]
    out = []
    for f0 in range(0, frames, BLOCK_FRAMES):
        starts = hop * np.arange(f0, min(frames, f0 + BLOCK_FRAMES))
        chunk = padded[starts[:, None] + np.arange(n_fft)[None, :]] * window
        power = np.abs(np.fft.rfft(chunk, axis=1)) ** float(spec["power"])
        out.append(np.log1p(fb.astype(np.float64) @ power.T))
    return np.concatenate(out, axis=1).astype(np.float32)


def read_audio(path: Path, spec: dict) -> np.ndarray:
    """Mono float32 at the model's rate, peak-normalised as the training data was."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != int(spec["sample_rate"]):
        try:
            import soxr
        except ImportError:
            raise SystemExit(f"{path}: {rate} Hz; resample to {spec['sample_rate']} Hz") from None
        audio = soxr.resample(audio, rate, int(spec["sample_rate"])).astype(np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if spec.get("normalize_peak") and peak > 0:
        audio = audio * np.float32(spec["peak_target"] / peak)
    return audio.astype(np.float32)


def session(folder: Path, manifest: dict, part: str) -> ort.InferenceSession | None:
    entry = manifest["parts"].get(part)
    if entry is None:
        return None
    return ort.InferenceSession(str(folder / entry["file"]), providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exported", type=Path, help="folder written by python -m rvqvae.export")
    parser.add_argument("wav", type=Path)
    parser.add_argument("out", type=Path, help="output prefix")
    parser.add_argument("--levels", type=int, default=None, help="decode with the first K levels")
    args = parser.parse_args()
    manifest = json.loads((args.exported / "manifest.json").read_text())
    spec = manifest["mel"]
    fb = np.load(args.exported / spec["filterbank_file"])
    window = np.load(args.exported / spec["window_file"])

    audio = read_audio(args.wav, spec)
    mel = log_mel(audio, spec, fb, window)  # [n_mels, frames]
    encoder, decoder = (
        session(args.exported, manifest, "encoder"),
        session(args.exported, manifest, "decoder"),
    )
    if encoder is None or decoder is None:
        raise SystemExit(f"{args.exported}: needs the encoder and decoder parts")
    codes = encoder.run(None, {"mel": mel[None]})[0]  # [1, rows, columns, levels]
    levels = int(args.levels or codes.shape[-1])
    feeds = {"codes": codes, "levels": np.array(levels, np.int64)}
    decoded = decoder.run(None, feeds)[0][:, :, : mel.shape[1]]  # [1, n_mels, frames]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = {"codes": f"{args.out}.codes.npy", "mel": f"{args.out}.mel.npy"}
    np.save(written["codes"], codes[0])
    np.save(written["mel"], decoded[0])
    vocoder = session(args.exported, manifest, "vocoder")
    if vocoder is not None:
        wave = vocoder.run(None, {"mel": decoded})[0][0, : len(audio)]
        written["wav"] = f"{args.out}.wav"
        sf.write(written["wav"], wave, int(spec["sample_rate"]), subtype="FLOAT")
    print(json.dumps({"frames": int(mel.shape[1]), "codes_shape": list(codes[0].shape), **written}))


if __name__ == "__main__":
    main()
