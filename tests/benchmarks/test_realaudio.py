"""benchmarks/realaudio.py: clip selection, cutting, manifest and safety on small local files
(no downloads, no festival)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks import realaudio as ra

FAKE_SR = 16000  # the builder resamples to 48 kHz
DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2020 Code Author
License: GPL-2+

Files: data/music/* data/sounds/boom.ogg
Copyright: 2021 Music Author
License: CC-BY-SA-3.0

License: GPL-2+
 text of the licence
"""


@pytest.fixture(autouse=True)
def _seed_torch():  # overrides the suite's torch seeding: these tests never import torch
    yield


def tone(seconds: float, sr: int, f0: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (level * np.sin(2 * np.pi * f0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def fake_package(root: Path, name: str, copyright_text: str, files: dict[str, np.ndarray]):
    """An 'unpacked package' folder with audio files (ogg/wav by suffix) and a copyright file."""
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright_text)
    for rel, audio in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        stereo = np.stack([audio, 0.5 * audio], axis=1)  # mixed to mono by the builder
        sf.write(str(path), stereo, FAKE_SR, format="OGG" if rel.endswith(".ogg") else "WAV")
    return ra.package_info(name, "1.0-1", root)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkgs")
    silence = np.zeros(FAKE_SR * 3, np.float32)
    music = {
        f"usr/share/games/fake/music/song{i}.ogg": np.concatenate(
            [silence, tone(7, FAKE_SR, 110 * (i + 2)), silence[:FAKE_SR]]
        )
        for i in range(5)
    }
    music["usr/share/games/fake/music/quiet.ogg"] = tone(7, FAKE_SR, 220, level=0.002)
    effects = {
        f"usr/share/games/fake/sounds/fx{i}.wav": np.concatenate(
            [silence[:1600], tone(1.0 + i, FAKE_SR, 300 + 50 * i), silence]
        )
        for i in range(6)
    }
    effects["usr/share/games/fake/sounds/long.wav"] = tone(41, FAKE_SR, 500)  # > 40 s: music
    effects["usr/share/games/fake/sounds/readme.txt"] = np.zeros(10, np.float32)
    a = fake_package(root / "a", "fake-music", DEP5, music)
    b = fake_package(
        root / "b", "fake-sfx", "Released under the GNU General Public License.\n", effects
    )
    (b.root / "usr/share/games/fake/sounds/readme.txt").write_text("not audio")
    return a, b


def make_clips(packages, seed: int = 0) -> list[ra.Clip]:
    a, b = packages
    music = ra.candidates("music", a, "usr/share/games/fake/music/*.ogg")
    effects = ra.candidates("effects", b, "usr/share/games/fake/sounds/*")
    clips = ra.select_clips("music", [(a, music)], 30, seed)
    return clips + ra.select_clips("effects", [(b, effects), (a, music)], 30, seed)


def test_pick_window_skips_silence_and_respects_lengths():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(3 * ra.SR), tone(4, ra.SR, 440), np.zeros(3 * ra.SR)])
    start, length = ra.pick_window(x, "effects", random.Random(0))
    assert length == 4 * ra.SR and 2.9 * ra.SR <= start <= 3.1 * ra.SR
    assert ra.pick_window(x, "music", random.Random(0)) is None  # 4 s < 5 s
    assert ra.pick_window(np.zeros(10 * ra.SR), "music", random.Random(0)) is None
    hiss = (1e-4 * rng.standard_normal(10 * ra.SR)).astype(np.float32)  # about -80 dBFS
    assert ra.pick_window(hiss, "music", random.Random(0)) is None
    long = tone(20, ra.SR, 220)
    start, length = ra.pick_window(long, "effects", random.Random(1))
    assert length == 6 * ra.SR and start % ra.FRAME == 0


def test_candidates_filter_and_selection_spread(packages):
    a, b = packages
    effects = ra.candidates("effects", b, "usr/share/games/fake/sounds/*")
    assert "usr/share/games/fake/sounds/long.wav" not in effects  # too long for an effect
    assert not any(f.endswith(".txt") for f in effects)
    clips = make_clips(packages)
    assert "usr/share/games/fake/sounds/fx0.wav" not in {c.source_file for c in clips}  # 1 s
    music = [c for c in clips if c.kind == "music"]
    assert len(music) == 5  # the quiet song gives no clip
    assert len({c.source_file for c in clips if c.kind == "effects"}) == len(
        [c for c in clips if c.kind == "effects"]
    )  # one clip per file
    fx = [c.package.name for c in clips if c.kind == "effects"]
    assert fx[:2] == ["fake-sfx", "fake-music"]  # round-robin over the packages
    for c in clips:
        lo, hi, _ = ra.LENGTHS[c.kind]
        assert lo * ra.SR <= len(c.audio) <= hi * ra.SR
        assert 10 * np.log10(np.mean(c.audio.astype(np.float64) ** 2)) > ra.MIN_CLIP_DB
        if c.source_file.endswith(".ogg"):
            assert c.offset_s >= 2.95  # the songs start with 3 s of silence


def test_same_input_gives_identical_bytes(packages, tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"set{i}"
        clips = make_clips(packages)
        ra.write_set(out, clips, [c.package for c in clips], seed=0)
        outs.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.*"))})
    assert outs[0] == outs[1] and len(outs[0]) > 10
    other = tmp_path / "seed1"
    clips = make_clips(packages, seed=1)
    ra.write_set(other, clips, [c.package for c in clips], seed=1)
    assert (other / "manifest.json").read_bytes() != outs[0][Path("manifest.json")]


def test_manifest_fields_and_wav_format(packages, tmp_path):
    clips = make_clips(packages)
    summary = ra.write_set(tmp_path / "set", clips, [c.package for c in clips], seed=0)
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["summary"] == summary
    rows = manifest["clips"]
    assert summary["counts"]["music"] == 5 and sum(summary["counts"].values()) == len(rows)
    assert abs(summary["total_seconds"] - sum(r["duration_s"] for r in rows)) < 0.01
    assert set(summary["packages"]) == {"fake-music", "fake-sfx"}
    for p in summary["packages"].values():
        assert p["version"] == "1.0-1" and (tmp_path / "set" / p["copyright"]).is_file()
    for r in rows:
        for key in ("path", "kind", "package", "version", "source_file", "license"):
            assert r[key], (key, r)
        assert r["offset_s"] >= 0 and 2 <= r["duration_s"] <= 6
        info = sf.info(str(tmp_path / "set" / r["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (48000, 1, "PCM_16")
        assert abs(info.duration - r["duration_s"]) < 1e-3
        if r["package"] == "fake-music":  # DEP-5: per-file licence and holder
            assert (r["license"], r["copyright"]) == ("CC-BY-SA-3.0", "2021 Music Author")
        else:
            assert r["license"] == "GPL"  # free-form copyright file
    assert len((tmp_path / "set" / "manifest.csv").read_text().splitlines()) == len(rows) + 1


def test_refuses_output_inside_the_checkout(tmp_path, capsys):
    with pytest.raises(ra.BuildError, match="inside the git checkout"):
        ra.check_out(ra.REPO / "data" / "realaudio")
    assert ra.main(["build", "--out", str(ra.REPO / "realaudio-out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: refusing") and "\n" not in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ra.BuildError, match="not a realaudio build"):
        ra.check_out(tmp_path / "mine")
    assert ra.check_out(tmp_path / "new") == (tmp_path / "new").resolve()


def test_licence_guess_for_free_form_copyright(tmp_path):
    pkg = fake_package(tmp_path, "voice", "Permission is hereby granted, free of charge\n", {})
    assert pkg.license == "permissive" and pkg.file_license("anything") == ("permissive", "")
    assert len(ra.SENTENCES) == 20 and all(s.endswith((".", "?")) for s in ra.SENTENCES)


def test_offsets_point_into_long_sources(tmp_path):
    t = np.arange(90 * FAKE_SR) / FAKE_SR  # 90 s: the clip comes from a seeded 60 s excerpt
    sweep = (0.3 * np.sin(2 * np.pi * (100 * t + 5 * t**2))).astype(np.float32)
    pkg = fake_package(tmp_path, "long", DEP5, {"usr/share/long/music/sweep.wav": sweep})
    for seed in range(3):
        (clip,) = ra.select_clips("music", [(pkg, ["usr/share/long/music/sweep.wav"])], 1, seed)
        whole = ra.soxr.resample(0.75 * sweep, FAKE_SR, ra.SR)  # mono mix of (1, 0.5) stereo
        start = round(clip.offset_s * ra.SR)
        ref = whole[start : start + len(clip.audio)]
        inner = slice(ra.FADE, -ra.FADE)
        assert np.max(np.abs(clip.audio[inner] - ref[inner])) < 0.01
