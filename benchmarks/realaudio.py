"""Build a small, deterministic real-audio dev set (music, speech, effects) from Debian packages.

    python benchmarks/realaudio.py build [--out DIR] [--cache DIR] [--per-kind 48] [--seed 0]

Music and effects are cut from game and desktop data packages fetched with ``apt-get download``
into ``--cache`` and unpacked with ``dpkg-deb -x`` (nothing is installed); speech is festival
reading the fixed sentences below with three voices (festival and the voices are installed with
apt-get when missing and running as root). Clips are 48 kHz mono 16-bit WAV files
``DIR/<kind>/<name>.wav``, listed with source package, version, file, offset and licence in
``DIR/manifest.json`` and ``DIR/manifest.csv``; each package's copyright file is copied to
``DIR/licenses/``. The same packages and seed give byte-identical output.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 48_000
FRAME = SR // 20  # 50 ms analysis frames; clip offsets and lengths are whole frames
ACTIVE_DB = -50.0  # a frame quieter than this (RMS, dBFS) is silence
MIN_CLIP_DB = -40.0  # a window quieter than this (RMS, dBFS) is near-silent ...
MIN_ACTIVE = 0.6  # ... and so is one with a smaller fraction of non-silent frames
FADE = SR // 200  # 5 ms fade in/out: no clicks at the cuts
EXCERPT_S = 60.0  # clips are cut from a seeded excerpt this long: long files decode faster
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path.home() / ".cache" / "rvqvae" / "realaudio"
DEFAULT_CACHE = Path.home() / ".cache" / "rvqvae" / "debs"
AUDIO_EXT = {".ogg", ".oga", ".opus", ".wav", ".flac"}
# kind: (shortest clip s, longest clip s, longest source file s: longer ones are music, not effects)
LENGTHS = {"music": (5.0, 5.0, 1e9), "effects": (2.0, 6.0, 40.0), "speech": (2.0, 6.0, 60.0)}
# kind, Debian package, glob inside it: clips are taken round-robin over each kind's packages
SOURCES = """
music   wesnoth-1.16-music      usr/share/games/wesnoth/1.16/data/core/music/*.ogg
music   warzone2100-music       usr/share/games/warzone2100/music/**/*.opus
music   singularity-music       usr/share/games/singularity/music/**/*.ogg
music   hyperrogue-music        usr/share/hyperrogue/music/*.ogg
effects supertux-data           usr/share/games/supertux2/sounds/*
effects hyperrogue-music        usr/share/hyperrogue/sounds/*.ogg
effects wordwarvi-sound         usr/share/wordwarvi/sounds/*.ogg
effects heroes-sound-effects    usr/share/games/heroes/sfx/*.wav
effects frozen-bubble-data      usr/share/games/frozen-bubble/snd/*.ogg
effects oxygen-sounds           usr/share/sounds/*.ogg
effects sound-theme-freedesktop usr/share/sounds/freedesktop/stereo/*.oga
"""
SOURCE_ROWS = [tuple(line.split()) for line in SOURCES.strip().splitlines()]
VOICES = {  # festival voice package -> voice: two recorded-diphone voices and one HTS voice
    "festvox-kallpc16k": "kal_diphone",
    "festvox-kdlpc16k": "ked_diphone",
    "festvox-us-slt-hts": "cmu_us_slt_arctic_hts",
}
# Written for this script (public domain, CC0); every voice reads every sentence.
TEXT = """The morning train was late again, so we walked. Please put the blue box on the top shelf.
A cold wind came down from the hills tonight. She found three old coins under the kitchen floor.
Turn left at the bakery and follow the river. The meeting starts at nine, not at half past. My
brother fixed the bicycle with a piece of wire. Every summer the lake is full of small boats. Could
you read the last number back to me? The garden smells of rain and fresh cut grass. We packed
bread, cheese and apples for the trip. His old radio still plays music every evening. The children
laughed when the dog caught the ball. Write your name clearly at the top of the page. A small light
was still burning in the window. The storm knocked down two trees near the school. I will call you
again when the package arrives. The painter mixed yellow and red to make orange. Our neighbours
keep chickens in a wooden shed. The market is closed on Sundays and holidays."""
SENTENCES = re.split(r"(?<=[.?]) ", " ".join(TEXT.split()))
LICENSE_RE = {  # short name: phrase, for copyright files that are not machine-readable
    "LGPL": "GNU L[a-z]+ General Public",
    "GPL": "GNU General Public",
    "CC-BY-SA": "Attribution.{0,3}Share ?Alike",
    "permissive": "Permission is hereby granted",
}


class BuildError(Exception):
    """A failure reported as one line, without a traceback."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    license: str  # short licence names from a free-form copyright file
    root: Path  # unpacked package root ("/" for an installed package)
    copyright: Path | None = None
    stanzas: tuple = ()  # (Files patterns, License, Copyright) of a machine-readable file

    def file_license(self, rel: str) -> tuple[str, str]:
        """``(licence, copyright holder)`` of ``rel`` from the last Files stanza matching it;
        source-tree patterns (``data/music/*``) match installed paths by tail (``*/music/*``)."""
        found = (self.license, "")
        for patterns, lic, holder in self.stanzas:
            tails = {t for p in patterns for t in (p, p.partition("/")[2]) if "/" in t or t == p}
            if any(fnmatch(rel, t) or fnmatch(rel, "*/" + t) for t in tails):
                found = (lic, holder)
        return found


@dataclass(frozen=True)
class Clip:
    kind: str
    package: Package
    source_file: str
    offset_s: float
    audio: np.ndarray
    text: str = ""


def run(cmd: list[str], hint: str, cwd: Path | None = None) -> str:
    """Run ``cmd``; any failure becomes a one-line BuildError ending with ``hint``."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"`{cmd[0]}` not found: {hint}") from None
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise BuildError(f"`{' '.join(cmd)}` failed ({err}): {hint}")
    return res.stdout


def package_info(name: str, version: str, root: Path) -> Package:
    """A Package with the licences of ``usr/share/doc/<name>/copyright``: per file for DEP-5
    files, else guessed from known phrases (or the file's first words) for the whole package."""
    cfile = root / "usr" / "share" / "doc" / name / "copyright"
    text = cfile.read_text(errors="replace") if cfile.is_file() else ""
    stanzas = []
    for para in re.split(r"\n\s*\n", text) if text.startswith("Format") else []:
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", para, re.M)
        lic, holder = (re.search(rf"^{k}:[ \t]*(.*)", para, re.M) for k in ("License", "Copyright"))
        if files and lic:
            stanzas.append((tuple(files[1].split()), lic[1], holder[1] if holder else ""))
    found = [short for short, rx in LICENSE_RE.items() if re.search(rx, text, re.I)]
    if stanzas:
        found = sorted({lic for _, lic, _ in stanzas})
    lic = ", ".join(found) or " ".join(text.split())[:160] or "unknown"
    return Package(name, version, lic, root, cfile if text else None, tuple(stanzas))


def fetch_deb(name: str, cache: Path) -> Path:
    """The candidate ``.deb`` of ``name`` in ``cache``, downloaded with apt-get if not there."""
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.which("apt-cache") is None:
        raise BuildError("apt-cache not found: this builder needs Debian or Ubuntu (apt, dpkg)")
    hint = f"is {name} in your apt sources (Debian 12 main)? try `apt-get update`"
    show = run(["apt-cache", "show", "--no-all-versions", name], hint)
    fields = dict(re.findall(r"^(Version|Architecture): (\S+)$", show, re.M))
    if "Version" not in fields:
        raise BuildError(f"package {name} not found by apt-cache: {hint}")
    deb = cache / f"{name}_{fields['Version'].replace(':', '%3a')}_{fields['Architecture']}.deb"
    if not deb.is_file():
        print(f"  downloading {name} {fields['Version']} ...", flush=True)
        run(["apt-get", "download", name], f"could not download {name}: check apt's network", cache)
    if not deb.is_file():
        raise BuildError(f"apt-get download {name} did not write {deb.name} into {cache}")
    return deb


def unpack(deb: Path, dest: Path) -> Package:
    """Unpack ``deb`` into ``dest`` (``dpkg-deb -x``) and read its name, version and licence."""
    hint = f"install dpkg, or delete {deb} if it is damaged"
    name = run(["dpkg-deb", "-f", str(deb), "Package"], hint).strip()
    version = run(["dpkg-deb", "-f", str(deb), "Version"], hint).strip()
    run(["dpkg-deb", "-x", str(deb), str(dest)], hint)
    return package_info(name, version, dest)


def installed(name: str) -> Package | None:
    """The installed Debian package ``name``, or None."""
    try:
        out = run(["dpkg-query", "-W", "-f", "${Status}\t${Version}", name], "")
    except BuildError:
        return None
    status, version = out.split("\t")
    return package_info(name, version, Path("/")) if status.endswith(" installed") else None


def load_mono(path: Path, rng: random.Random) -> tuple[np.ndarray, float]:
    """``(audio, start s)``: an excerpt of at most EXCERPT_S of ``path`` starting at a whole
    second drawn with ``rng``, mixed to mono and resampled to 48 kHz (soxr)."""
    info = sf.info(str(path))
    start = rng.randrange(max(1, int(info.duration - EXCERPT_S)))
    frames = int(EXCERPT_S * info.samplerate)
    x, sr = sf.read(str(path), frames, start * info.samplerate, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return (x if sr == SR else soxr.resample(x, sr, SR).astype(np.float32)), float(start)


def pick_window(x: np.ndarray, kind: str, rng: random.Random) -> tuple[int, int] | None:
    """``(start, length)`` in samples of a window as long as ``kind`` allows inside the
    non-silent span of ``x``, drawn among the louder half of the non-near-silent ones; or None."""
    lo_s, hi_s, _ = LENGTHS[kind]
    n = len(x) // FRAME
    power = np.mean(x[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1)
    active = 10 * np.log10(power + 1e-12) >= ACTIVE_DB
    if not active.any():
        return None
    first, last = int(np.argmax(active)), n - int(np.argmax(active[::-1]))
    length = min(round(hi_s * SR / FRAME), last - first)
    if length < round(lo_s * SR / FRAME):
        return None
    cum_p, cum_a = (np.concatenate([[0], np.cumsum(v)]) for v in (power, active))
    starts = np.arange(first, last - length + 1)
    rms_db = 10 * np.log10((cum_p[starts + length] - cum_p[starts]) / length + 1e-12)
    ok = (rms_db >= MIN_CLIP_DB) & ((cum_a[starts + length] - cum_a[starts]) / length >= MIN_ACTIVE)
    if not ok.any():
        return None
    loud = starts[ok & (rms_db >= np.median(rms_db[ok]))]
    return rng.choice(loud.tolist()) * FRAME, length * FRAME


def cut(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """``x[start:start+length]`` with 5 ms fades at both ends."""
    clip = x[start : start + length].copy()
    ramp = np.sin(np.linspace(0, np.pi / 2, FADE, dtype=np.float32)) ** 2
    clip[:FADE] *= ramp
    clip[-FADE:] *= ramp[::-1]
    return clip


def candidates(kind: str, pkg: Package, pattern: str) -> list[str]:
    """Audio files matching ``pattern`` in ``pkg`` whose length suits ``kind``, sorted."""
    lo_s, _, max_src = LENGTHS[kind]
    files = []
    for p in sorted(pkg.root.glob(pattern)):
        if p.suffix.lower() in AUDIO_EXT and p.is_file() and not p.is_symlink():
            try:
                if lo_s <= sf.info(str(p)).duration <= max_src:
                    files.append(p.relative_to(pkg.root).as_posix())
            except RuntimeError as e:
                print(f"  skipping {pkg.name}: {e}", file=sys.stderr)
    return files


def select_clips(kind: str, sources: list[tuple[Package, list[str]]], count: int, seed: int):
    """Up to ``count`` clips, one per file, round-robin over the sources in a seeded order."""
    shuffle = [random.Random(f"{seed}:{kind}:{pkg.name}") for pkg, _ in sources]
    queues = [(pkg, r.sample(sorted(f), len(f))) for (pkg, f), r in zip(sources, shuffle)]
    clips: list[Clip] = []
    while len(clips) < count and any(files for _, files in queues):
        for pkg, files in queues:
            while files and len(clips) < count:
                rel = files.pop(0)
                rng = random.Random(f"{seed}:{kind}:{pkg.name}:{rel}")
                try:
                    x, start = load_mono(pkg.root / rel, rng)
                except RuntimeError as e:
                    print(f"  skipping {pkg.name}: {e}", file=sys.stderr)
                    continue
                if win := pick_window(x, kind, rng):
                    clips.append(Clip(kind, pkg, rel, start + win[0] / SR, cut(x, *win)))
                    break
    return clips


def speech_clips(count: int, seed: int, tmp: Path) -> tuple[list[Clip], list[Package]]:
    """Festival reading SENTENCES, each by every voice in turn; installs festival if needed."""
    names = ["festival", *VOICES]
    if missing := [n for n in names if installed(n) is None]:
        todo = f"run `sudo apt-get install -y --no-install-recommends {' '.join(names)}`"
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise BuildError(f"festival or its voices missing ({', '.join(missing)}): {todo}")
        print(f"  installing {' '.join(missing)} with apt-get ...", flush=True)
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], todo)
    pkgs = [p for p in map(installed, names) if p is not None]
    voices = [p for p in pkgs if p.name in VOICES]
    clips = []
    for i in range(min(count, len(SENTENCES) * len(voices))):
        text, pkg = SENTENCES[i // len(voices)], voices[i % len(voices)]
        (tmp / "s.txt").write_text(text + "\n")
        cmd = ["text2wave", "-eval", f"(voice_{VOICES[pkg.name]})", "-o", "s.wav", "s.txt"]
        run(cmd, f"festival could not speak with {pkg.name}: reinstall festival and it", tmp)
        rng = random.Random(f"{seed}:speech:{i}")
        x, _ = load_mono(tmp / "s.wav", rng)
        if win := pick_window(x, "speech", rng):
            src = f"festival voice {VOICES[pkg.name]}"
            clips.append(Clip("speech", pkg, src, win[0] / SR, cut(x, *win), text))
    return clips, pkgs


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", s).strip("-")[:40]


def write_set(out: Path, clips: list[Clip], packages: list[Package], seed: int) -> dict:
    """Write clips, copyright files and manifests to ``out`` (swapped in at the end)."""
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "licenses").mkdir(parents=True)
    rows: list[dict] = []
    for c in clips:
        n = sum(r["kind"] == c.kind for r in rows)
        stem = slug(c.source_file.split()[-1] if c.text else Path(c.source_file).stem)
        rel = f"{c.kind}/{n:02d}_{slug(c.package.name)}_{stem}.wav"
        gain = min(1.0, 0.999 / max(float(np.max(np.abs(c.audio))), 1e-9))  # no clipping
        (tmp / c.kind).mkdir(exist_ok=True)
        sf.write(str(tmp / rel), c.audio * gain, SR, subtype="PCM_16", format="WAV")
        rms = 10 * np.log10(np.mean(np.square(c.audio * gain, dtype=np.float64)) + 1e-12)
        lic, holder = c.package.file_license(c.source_file)
        rows.append(
            dict(path=rel, kind=c.kind, package=c.package.name, version=c.package.version)
            | dict(source_file=c.source_file, offset_s=round(c.offset_s, 3))
            | dict(duration_s=round(len(c.audio) / SR, 3), rms_dbfs=round(float(rms), 2))
            | dict(gain_db=round(20 * np.log10(gain), 2), license=lic, copyright=holder)
            | dict(text=c.text)
        )
    pkgs = {}
    for p in sorted({p.name: p for p in packages}.values(), key=lambda p: p.name):
        lics = sorted({r["license"] for r in rows if r["package"] == p.name}) or [p.license]
        pkgs[p.name] = {"version": p.version, "license": "; ".join(lics), "copyright": None}
        if p.copyright is not None:
            shutil.copyfile(p.copyright, tmp / "licenses" / f"{p.name}.copyright")
            pkgs[p.name]["copyright"] = f"licenses/{p.name}.copyright"
    seconds = {k: round(sum(r["duration_s"] for r in rows if r["kind"] == k), 2) for k in LENGTHS}
    counts = {k: sum(r["kind"] == k for r in rows) for k in LENGTHS}
    summary = dict(format=f"WAV, {SR} Hz, mono, PCM_16", seed=seed, counts=counts, seconds=seconds)
    summary |= dict(total_seconds=round(sum(seconds.values()), 2), packages=pkgs)
    manifest = json.dumps({"summary": summary, "clips": rows}, indent=1, sort_keys=True)
    (tmp / "manifest.json").write_text(manifest + "\n")
    with open(tmp / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return summary


def check_out(out: Path, repo: Path = REPO, build_dir: bool = True) -> Path:
    """``out`` resolved; BuildError if inside the checkout ``repo`` or not an earlier build."""
    out, repo = out.expanduser().resolve(), repo.resolve()
    if out == repo or repo in out.parents:
        raise BuildError(f"refusing to write {out}: it is inside the git checkout {repo}")
    if build_dir and out.exists() and not (out / "manifest.json").is_file():
        if not out.is_dir() or any(out.iterdir()):
            raise BuildError(f"{out} exists and is not a realaudio build: pick another --out")
    return out


def build(out: Path, cache: Path, per_kind: int, seed: int) -> dict:
    """Fetch, unpack, cut and write the whole dev set; returns the manifest summary."""
    out, cache = check_out(out), check_out(cache, build_dir=False)
    names = sorted({name for _, name, _ in SOURCE_ROWS})
    with tempfile.TemporaryDirectory(prefix="realaudio-") as tmp_name:
        tmp = Path(tmp_name)
        pkgs = {n: unpack(fetch_deb(n, cache), tmp / n) for n in names}
        clips: list[Clip] = []
        for kind in ("music", "effects"):
            print(f"  cutting {kind} ...", flush=True)
            srcs = [(pkgs[n], candidates(kind, pkgs[n], g)) for k, n, g in SOURCE_ROWS if k == kind]
            clips += select_clips(kind, srcs, per_kind, seed)
        print("  speech: festival reading sentences ...", flush=True)
        speech, speech_pkgs = speech_clips(per_kind, seed, tmp)
        for kind in LENGTHS:
            if (n := sum(c.kind == kind for c in clips + speech)) < per_kind:
                print(f"warning: only {n} {kind} clips (asked for {per_kind})", file=sys.stderr)
        return write_set(out, clips + speech, [c.package for c in clips] + speech_pkgs, seed)


def per_kind(text: str) -> int:
    if not text.isdigit() or not 30 <= int(text) <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 30 to 60")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    b = ap.add_subparsers(dest="cmd", required=True).add_parser("build", help="build the set")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    b.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    b.add_argument("--per-kind", type=per_kind, default=48, help="clips per kind, 30..60")
    b.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        summary = build(args.out, args.cache, args.per_kind, args.seed)
    except (BuildError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for kind, n in summary["counts"].items():
        print(f"{kind:8s} {n:3d} clips {summary['seconds'][kind]:7.1f} s")
    print(f"total    {sum(summary['counts'].values()):3d} clips {summary['total_seconds']:7.1f} s")
    for name, p in summary["packages"].items():
        print(f"  {name} {p['version']}: {p['license']}")
    print(f"wrote {check_out(args.out)} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
