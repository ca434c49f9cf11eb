"""Deterministic procedural music: the embedded default dataset.

Each file is a short loop-like piece on a tempo grid in a random key: melodies and chords in
several timbres (harmonic/saw-like, odd-harmonic/square-like, FM, Karplus-Strong plucks, soft
sine-like) with ADSR envelopes and vibrato, drum patterns (kick, snare, hat) and band-limited
noise textures. All randomness comes from ``numpy.random.default_rng([seed, file_index])``,
so the same seed gives byte-identical 16-bit WAV files on any run.

The files then go through exactly the same folder pipeline as user audio.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rvqvae.atomic import atomic_path, atomic_write_bytes

GENERATOR_VERSION = 1
MANIFEST = "manifest.json"
_TABLE = 2048  # wavetable length
_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}
_TIMBRES = ("harmonic", "odd", "fm", "pluck", "soft")


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _adsr(n: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """ADSR envelope of ``n`` samples; the release occupies the last ``r`` seconds."""
    na, nd, nr = int(a * sr), int(d * sr), int(r * sr)
    na = max(1, min(na, n))
    nd = max(0, min(nd, n - na))
    nr = max(0, min(nr, n - na - nd))
    ns = n - na - nd - nr
    env = np.concatenate(
        [
            np.linspace(0.0, 1.0, na, endpoint=False),
            np.linspace(1.0, s, nd, endpoint=False),
            np.full(ns, s),
            np.linspace(s, 0.0, nr),
        ]
    )
    return env[:n]


def _phase(f0: float, n: int, sr: int, rng: np.random.Generator, vibrato: bool) -> np.ndarray:
    """Instantaneous phase in cycles (not radians) of a note with optional vibrato."""
    t = np.arange(n) / sr
    if not vibrato:
        return f0 * t + rng.random()
    rate, depth = rng.uniform(4.5, 6.5), rng.uniform(0.002, 0.008)
    onset = np.clip(t / 0.25, 0.0, 1.0)  # vibrato fades in
    freq = f0 * (1.0 + depth * onset * np.sin(2 * np.pi * rate * t))
    return np.cumsum(freq) / sr + rng.random()


def _wavetable(amps: np.ndarray) -> np.ndarray:
    spec = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
    spec[1 : 1 + len(amps)] = -1j * amps  # sine phases
    table = np.fft.irfft(spec, _TABLE)
    return table / (np.max(np.abs(table)) + 1e-12)


def _tone(timbre: str, f0: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One pitched note (no envelope except for plucks, which decay by themselves)."""
    if timbre == "pluck":
        return _karplus_strong(f0, n, sr, rng)
    vibrato = rng.random() < 0.5
    ph = _phase(f0, n, sr, rng, vibrato)
    if timbre == "fm":
        ratio = rng.choice([1.0, 2.0, 3.0, 0.5])
        index = rng.uniform(0.5, 4.0) * np.exp(-np.arange(n) / (sr * rng.uniform(0.1, 0.6)))
        return np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * ratio * ph))
    k_max = max(1, min(40, int(0.45 * sr / f0)))
    k = np.arange(1, k_max + 1, dtype=np.float64)
    rolloff = rng.uniform(0.8, 1.6)
    if timbre == "harmonic":
        amps = 1.0 / k**rolloff
    elif timbre == "odd":
        amps = np.where(k % 2 == 1, 1.0 / k**rolloff, 0.0)
    else:  # soft: a few low harmonics
        amps = np.exp(-(k - 1) * rng.uniform(0.8, 2.0))
    table = _wavetable(amps)
    idx = ((ph % 1.0) * _TABLE).astype(np.int64) % _TABLE
    return table[idx]


def _karplus_strong(f0: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked string: a noise burst recirculated through an averaging delay line.

    Vectorised per period: each period is the previous one low-passed (circular average), which
    is the classic recurrence up to the one-sample wrap at the period boundary.
    """
    period = max(2, int(round(sr / f0)))
    decay = rng.uniform(0.985, 0.998)
    block = rng.uniform(-1.0, 1.0, period)
    out = np.empty(((n + period - 1) // period) * period)
    for i in range(0, out.size, period):
        out[i : i + period] = block
        block = decay * 0.5 * (block + np.roll(block, 1))
    return out[:n]


def _kick(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f_hi, f_lo = rng.uniform(120, 180), rng.uniform(40, 60)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.08, 0.2))


def _snare(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    noise = _shaped_noise(n, sr, rng, center=rng.uniform(2000, 5000), width=1.2)
    body = np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.03)
    return (0.8 * noise * np.exp(-t / rng.uniform(0.05, 0.12)) + 0.5 * body) / 1.3


def _hat(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    noise = _shaped_noise(n, sr, rng, center=rng.uniform(7000, 11000), width=0.5)
    return noise * np.exp(-t / rng.uniform(0.015, 0.05))


def _shaped_noise(
    n: int, sr: int, rng: np.random.Generator, center: float, width: float
) -> np.ndarray:
    """White noise shaped by a log-frequency Gaussian band (``width`` in octaves), peak 1."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    octaves = np.log2(np.maximum(f, 1.0) / center)
    spec *= np.exp(-0.5 * (octaves / width) ** 2)
    y = np.fft.irfft(spec, n)
    return y / (np.max(np.abs(y)) + 1e-12)


def _add(mix: np.ndarray, start: int, sig: np.ndarray) -> None:
    end = min(mix.size, start + sig.size)
    if end > start:
        mix[start:end] += sig[: end - start]


def _render_file(rng: np.random.Generator, sr: int, duration_s: float) -> np.ndarray:
    n = int(round(duration_s * sr))
    mix = np.zeros(n)
    bpm = rng.uniform(80, 140)
    step = int(round(60.0 / bpm / 4 * sr))  # sixteenth note, in samples
    n_steps = max(1, n // step)
    root = int(rng.integers(45, 58))
    scale = _SCALES[rng.choice(list(_SCALES))]
    style = rng.choice(["melody", "chords", "drums", "mixed", "mixed", "texture"])

    def degree(d: int) -> int:
        return root + 12 * (d // len(scale)) + scale[d % len(scale)]

    def note(timbre: str, midi: float, start: int, length: int, gain: float) -> None:
        length = max(64, min(length, n - start))
        if length <= 0 or start >= n:
            return
        sig = _tone(timbre, _midi_hz(midi), length, sr, rng)
        if timbre != "pluck":
            a = rng.uniform(0.005, 0.08)
            sig = sig * _adsr(length, sr, a, rng.uniform(0.05, 0.2), rng.uniform(0.4, 0.9), 0.05)
        else:
            sig = sig * _adsr(length, sr, 0.002, 0.0, 1.0, 0.02)
        _add(mix, start, gain * sig)

    if style in ("melody", "mixed"):
        timbre = rng.choice(_TIMBRES)
        pos, d = 0, int(rng.integers(5, 10))
        while pos < n_steps:
            dur = int(rng.choice([1, 2, 2, 4, 4, 8]))
            if rng.random() < 0.85:
                d = int(np.clip(d + rng.integers(-2, 3), 0, 3 * len(scale)))
                note(timbre, degree(d) + 12, pos * step, dur * step, rng.uniform(0.3, 0.6))
            pos += dur
    if style in ("chords", "mixed", "texture"):
        timbre = rng.choice(["harmonic", "soft", "odd", "fm"])
        bar = 16 if style != "texture" else 32
        for pos in range(0, n_steps, bar):
            d = int(rng.integers(0, len(scale)))
            gain = rng.uniform(0.12, 0.25)
            for voice in (0, 2, 4):
                note(timbre, degree(d + voice), pos * step, bar * step, gain)
    if style in ("drums", "mixed"):
        kicks = rng.random(16) < 0.3
        kicks[0] = True
        snares = np.zeros(16, bool)
        snares[[4, 12]] = rng.random() < 0.8
        hats = rng.random(16) < rng.uniform(0.3, 0.9)
        hit_len = int(0.3 * sr)
        for pos in range(n_steps):
            s = pos % 16
            if kicks[s]:
                _add(mix, pos * step, 0.8 * _kick(hit_len, sr, rng))
            if snares[s]:
                _add(mix, pos * step, 0.45 * _snare(hit_len, sr, rng))
            if hats[s]:
                _add(mix, pos * step, rng.uniform(0.1, 0.25) * _hat(hit_len // 3, sr, rng))
        if style == "drums":  # bass line
            timbre = rng.choice(["harmonic", "odd", "pluck"])
            for pos in range(0, n_steps, 4):
                if rng.random() < 0.8:
                    d = int(rng.choice([0, 0, 3, 4]))
                    note(timbre, degree(d) - 12, pos * step, 3 * step, 0.4)
    if style == "texture" or rng.random() < 0.2:
        tex = _shaped_noise(n, sr, rng, center=rng.uniform(300, 4000), width=rng.uniform(0.3, 1.0))
        t = np.arange(n) / sr
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 6))
        _add(mix, 0, rng.uniform(0.05, 0.2) * tex * swell)

    peak = np.max(np.abs(mix))
    if peak < 1e-6:  # cannot happen in practice, but never write a silent file
        mix = 0.3 * _tone("soft", _midi_hz(root + 12), n, sr, rng)
        peak = np.max(np.abs(mix))
    fade = min(n // 2, int(0.005 * sr))
    mix[:fade] *= np.linspace(0, 1, fade)
    mix[n - fade :] *= np.linspace(1, 0, fade)
    return (mix / peak * rng.uniform(0.5, 0.95)).astype(np.float32)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact_files(out: Path, params: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """``({name: sha256}, complete)``: the files in ``out`` whose hash matches its manifest,
    and whether the manifest is exactly that of ``params`` with every file intact.

    File contents depend on every parameter but ``num_files`` (file ``i`` comes from its own
    generator), so a manifest that differs only there still vouches for its files.
    """
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        old, files = dict(manifest["params"]), dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}, False
    if {**old, "num_files": params["num_files"]} != params:
        return {}, False
    intact = {
        name: digest
        for name, digest in files.items()
        if (out / name).is_file() and _sha256(out / name) == digest
    }
    return intact, old == params and len(intact) == len(files) == params["num_files"]


def synth_params(
    num_files: int = 32,
    seed: int = 0,
    sample_rate: int = 48000,
    min_duration_s: float = 2.0,
    max_duration_s: float = 4.0,
) -> dict[str, Any]:
    """The parameters that define a synth dataset (also its manifest entry)."""
    if num_files < 1:
        raise ValueError(f"num_files must be >= 1, got {num_files}")
    if not 0 < min_duration_s <= max_duration_s:
        raise ValueError(
            f"need 0 < min_duration_s <= max_duration_s, got {min_duration_s}, {max_duration_s}"
        )
    return {
        "version": GENERATOR_VERSION,
        "num_files": int(num_files),
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "min_duration_s": float(min_duration_s),
        "max_duration_s": float(max_duration_s),
    }


def generate_synth_dataset(
    out_dir: str | os.PathLike[str],
    num_files: int = 32,
    seed: int = 0,
    sample_rate: int = 48000,
    min_duration_s: float = 2.0,
    max_duration_s: float = 4.0,
) -> Path:
    """Write ``num_files`` synth WAVs (16-bit PCM) into ``out_dir`` and return it.

    Byte-identical for the same arguments. Skips all work when ``out_dir`` already holds a
    complete dataset whose ``manifest.json`` matches (parameters and file hashes); otherwise
    renders only the files that are missing or whose hash differs from the manifest, so intact
    files (and their feature-cache entries) stay as they are. Each file is written atomically;
    the manifest is written last, so an interrupted generation is simply resumed.
    """
    import soundfile as sf

    params = synth_params(num_files, seed, sample_rate, min_duration_s, max_duration_s)
    out = Path(out_dir).expanduser()
    intact, complete = _intact_files(out, params)
    if complete:
        return out
    out.mkdir(parents=True, exist_ok=True)
    names = [f"synth_{i:03d}.wav" for i in range(num_files)]
    for stale in out.glob("synth_*.wav"):
        if stale.name not in names:
            stale.unlink()
    files: dict[str, str] = {}
    for i, name in enumerate(names):
        if name in intact:
            files[name] = intact[name]
            continue
        rng = np.random.default_rng([seed, i])
        duration = rng.uniform(min_duration_s, max_duration_s)
        audio = _render_file(rng, sample_rate, duration)
        with atomic_path(out / name) as tmp:
            sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
            files[name] = _sha256(tmp)
    manifest = json.dumps({"params": params, "files": files}, indent=1, sort_keys=True)
    atomic_write_bytes(out / MANIFEST, manifest.encode())
    return out
