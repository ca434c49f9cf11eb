"""Audio -> codes files -> mel + audio, streaming in bounded memory.

Encode: :class:`~rvqvae.data.io.AudioReader` blocks -> streaming log-mel -> overlapping
chunks (hop = ``(1 - overlap) * chunk_frames``) -> model in batches -> indices (layout
``"chunks"``), or the whole mel -> one code grid (layout ``"grid"``, :mod:`rvqvae.codec.grid`).
Decode: indices in batches -> chunk mels -> sin^2 overlap-add (weights sum to one), or the grid
through the decoder in one pass -> ``.npy``
(memory-mapped, written incrementally), PNG, and WAV via block-wise Griffin-Lim written with a
``soundfile.SoundFile`` in write mode. Output length is exactly the original length in samples.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch

from rvqvae.atomic import atomic_path
from rvqvae.codec.format import (
    LAYOUTS,
    SUFFIX,
    CodecError,
    CodesFile,
    check_decodable,
    codes_dtype,
    load_codes,
    save_codes,
)
from rvqvae.codec.grid import decode_grid_file, encode_grid_file
from rvqvae.codec.model import Codec
from rvqvae.codec.png import render_mel_png
from rvqvae.data.chunks import MelStitcher, stream_chunks
from rvqvae.data.discovery import discover_audio_files
from rvqvae.data.io import DEFAULT_BLOCK_SAMPLES, AudioReader, BadAudioFile
from rvqvae.data.mel import frames_for, stream_mel
from rvqvae.data.vocoder import StreamingGriffinLim

log = logging.getLogger(__name__)


def hop_frames_for(chunk_frames: int, overlap: float) -> int:
    """Frames between chunk starts for an ``overlap`` fraction in ``[0, 1)``."""
    if not 0.0 <= float(overlap) < 1.0:
        raise CodecError(f"overlap must be in [0, 1), got {overlap!r}")
    return max(1, min(chunk_frames, round(chunk_frames * (1.0 - float(overlap)))))


# --------------------------------------------------------------------------------------------
# Encode
# --------------------------------------------------------------------------------------------


def encode_file(
    codec: Codec,
    path: str | os.PathLike[str],
    overlap: float = 0.5,
    batch_size: int = 16,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    source_name: str | None = None,
    layout: str = "chunks",
) -> CodesFile:
    """Encode one audio file to a :class:`CodesFile` (streaming; only the codes are kept).

    ``layout="chunks"``: overlapping chunks (``overlap``, ``batch_size``); ``"grid"``: one
    whole-file code grid (:func:`rvqvae.codec.grid.encode_grid_file`; ``overlap`` unused).

    Raises:
        BadAudioFile: the file cannot be used (see ``load_audio``).
        CodecError: an unknown ``layout`` or ``overlap`` out of range.
    """
    if layout not in LAYOUTS:
        raise CodecError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "grid":
        return encode_grid_file(codec, path, block_samples, source_name)
    s = codec.settings
    c = codec.chunk_frames
    hop = hop_frames_for(c, overlap)
    reader = AudioReader(path, s.sample_rate, codec.normalize_peak, block_samples)
    num_frames = frames_for(reader.num_samples, s.hop_length)
    dtype = codes_dtype(codec.model.codebook_size)
    codes: list[np.ndarray] = []
    shapes: list[tuple[int, int]] = []
    starts: list[int] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack(batch))[:, None]  # [B, 1, n_mels, C]
        idx, hw = codec.encode_chunks(x)  # [B, H*W, Q]
        codes.append(idx.cpu().numpy().astype(dtype))
        shapes.extend([hw] * idx.shape[0])
        batch.clear()

    mel_blocks = stream_mel(reader.blocks(), reader.num_samples, s)
    for start, chunk in stream_chunks(mel_blocks, num_frames, c, hop):
        starts.append(start)
        batch.append(chunk)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return CodesFile(
        codes=np.concatenate(codes),
        spatial_shape=np.asarray(shapes, np.int64),
        chunk_starts=np.asarray(starts, np.int64),
        chunk_frames=c,
        chunk_hop_frames=hop,
        chunk_duration_s=codec.chunk_duration_s,
        num_frames=num_frames,
        num_samples=reader.num_samples,
        settings=s,
        normalize_peak=codec.normalize_peak,
        peak_gain=reader.gain,
        source_sample_rate=reader.source_sample_rate,
        source_num_samples=reader.source_num_samples,
        source_name=source_name or Path(path).name,
        codebook_size=codec.model.codebook_size,
        num_quantizers=codec.model.num_quantizers,
        model_config=codec.model_config,
        run_config=codec.run_config,
        weights_sha256=codec.weights_sha256,
    )


def _output_names(files: list[Path], root: Path, suffix: str) -> list[Path]:
    """Relative output paths mirroring ``files`` under ``root``: ``stem + suffix``.

    Inputs that would collide (``a.wav`` and ``a.flac``) keep their full name instead.
    """
    rels = [f.relative_to(root) for f in files]
    plain = [r.with_name(r.stem + suffix) for r in rels]
    counts: dict[Path, int] = {}
    for p in plain:
        counts[p] = counts.get(p, 0) + 1
    return [p if counts[p] == 1 else r.with_name(r.name + suffix) for p, r in zip(plain, rels)]


def encode_path(
    codec: Codec,
    input_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    overlap: float = 0.5,
    batch_size: int = 16,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    on_bad_file: str = "skip",
    layout: str = "chunks",
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Encode a file or a folder (recursively, mirroring relative paths) into ``output_dir``.

    Returns ``(written [(audio, codes file)], bad [(audio, reason)])``. ``on_bad_file="error"``
    stops at the first unusable file; ``layout`` as in :func:`encode_file`.

    Raises:
        DatasetError: ``input_path`` is missing or a folder without audio.
        CodecError: every input file was unusable.
    """
    src = Path(input_path).expanduser()
    out = Path(output_dir).expanduser()
    if src.is_file():
        files, root = [src], src.parent
    else:
        files, root = discover_audio_files(src), src
    written: list[tuple[Path, Path]] = []
    bad: list[tuple[Path, str]] = []
    for f, rel in zip(files, _output_names(files, root, SUFFIX)):
        try:
            name = str(f.relative_to(root))
            codes = encode_file(codec, f, overlap, batch_size, block_samples, name, layout)
        except BadAudioFile as err:
            if on_bad_file == "error":
                raise
            log.warning("skipping %s: %s", f, err.reason)
            bad.append((f, err.reason))
            continue
        target = save_codes(codes, out / rel)
        written.append((f, target))
        shape = "x".join(str(int(v)) for v in codes.spatial_shape[0])
        log.info("%s -> %s (%s: %d x %s)", f, target, layout, codes.num_chunks, shape)
    if not written:
        first = f" (first: {bad[0][0].name}: {bad[0][1]})" if bad else ""
        raise CodecError(f"no file under {src} could be encoded{first}")
    return written, bad


# --------------------------------------------------------------------------------------------
# Decode
# --------------------------------------------------------------------------------------------


def _check_decodable(codec: Codec, codes: CodesFile, levels: int | None) -> None:
    model = codec.model
    check_decodable(codes, codec.settings, model.num_quantizers, model.codebook_size, levels)


def decode_chunk_mels(
    codec: Codec, codes: CodesFile, levels: int | None = None, batch_size: int = 16
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, mel [n_mels, chunk_frames])`` of every chunk, decoded in batches (unstitched)."""
    _check_decodable(codec, codes, levels)
    n = codes.num_chunks
    i = 0
    while i < n:
        hw = tuple(int(v) for v in codes.spatial_shape[i])
        j = i + 1
        while j < min(n, i + batch_size) and tuple(codes.spatial_shape[j]) == hw:
            j += 1
        idx = torch.from_numpy(codes.codes[i:j].astype(np.int64))  # [B, H*W, Q]
        try:
            mels = codec.decode_chunks(idx, hw, codes.chunk_frames, levels)  # [B, 1, M, C]
        except (ValueError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CodecError(f"codes cannot be decoded by this model: {first}") from None
        for k in range(j - i):
            yield int(codes.chunk_starts[i + k]), mels[k, 0].cpu().numpy()
        i = j


def decode_mel_blocks(
    codec: Codec, codes: CodesFile, levels: int | None = None, batch_size: int = 16
) -> Iterator[np.ndarray]:
    """Decoded mel blocks ``[n_mels, f]`` concatenating to ``[n_mels, num_frames]``: stitched
    chunks, or a grid decoded in one pass (:func:`rvqvae.codec.grid.decode_grid_file`)."""
    if codes.layout == "grid":
        _check_decodable(codec, codes, levels)
        yield from decode_grid_file(codec, codes, levels)
        return
    stitcher = MelStitcher(codec.settings.n_mels, codes.num_frames, codes.chunk_frames)
    for start, mel in decode_chunk_mels(codec, codes, levels, batch_size):
        done = stitcher.pop(start)
        if done.shape[1]:
            yield done
        stitcher.add(start, mel)
    rest = stitcher.pop(codes.num_frames)
    if rest.shape[1]:
        yield rest


def decode_to_mel(
    codec: Codec, codes: CodesFile, levels: int | None = None, batch_size: int = 16
) -> np.ndarray:
    """The whole decoded mel ``[n_mels, num_frames]`` in memory (short files, tests)."""
    return np.concatenate(list(decode_mel_blocks(codec, codes, levels, batch_size)), axis=1)


def decode_file(
    codec: Codec,
    codes_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    levels: int | None = None,
    griffin_lim_iters: int = 32,
    allow_mismatch: bool = False,
    batch_size: int = 16,
    griffin_lim_block_s: float = 20.0,
    griffin_lim_overlap_s: float = 0.25,
    write_png: bool = True,
    write_audio: bool = True,
    restore_level: bool = False,
    wav_subtype: str = "FLOAT",
    name: str | None = None,
) -> dict[str, Path]:
    """Decode one codes file to ``<name>.mel.npy``, ``<name>.mel.png`` and ``<name>.wav``.

    Raises:
        CodesFormatError: the codes file is unreadable or invalid.
        CodecMismatchError: made by another model (unless ``allow_mismatch``).
        CodecError: ``levels`` out of range or codes the model cannot decode.
    """
    import soundfile as sf

    codes = load_codes(codes_path)
    codec.check_compatible(codes, allow_mismatch)
    _check_decodable(codec, codes, levels)
    out = Path(output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    if name is None:
        base = Path(codes_path).name
        name = base[: -len(SUFFIX)] if base.endswith(SUFFIX) else Path(base).stem
    s = codec.settings
    paths = {"mel_npy": out / f"{name}.mel.npy"}
    if write_audio:
        paths["wav"] = out / f"{name}.wav"
    if write_png:
        paths["mel_png"] = out / f"{name}.mel.png"
    # Every output goes to a temporary file beside its target; all of them replace the targets
    # only once the whole item has been decoded (a failure leaves a previous decode intact).
    with ExitStack() as stack:
        tmp = {k: stack.enter_context(atomic_path(p)) for k, p in paths.items()}
        mel_out = np.lib.format.open_memmap(
            tmp["mel_npy"], mode="w+", dtype=np.float32, shape=(s.n_mels, codes.num_frames)
        )
        gl = None
        wav = None
        if write_audio:
            frames_per_s = s.sample_rate / s.hop_length
            gl = StreamingGriffinLim(
                s,
                codes.num_frames,
                codes.num_samples,
                griffin_lim_iters,
                block_frames=max(1, round(griffin_lim_block_s * frames_per_s)),
                overlap=max(1, round(griffin_lim_overlap_s * frames_per_s)),
            )
            wav = sf.SoundFile(tmp["wav"], "w", s.sample_rate, 1, subtype=wav_subtype, format="WAV")
        gain = 1.0 / codes.peak_gain if restore_level and codes.peak_gain > 0 else 1.0
        scale = np.float32(gain)
        try:
            pos = 0
            for block in decode_mel_blocks(codec, codes, levels, batch_size):
                mel_out[:, pos : pos + block.shape[1]] = block
                pos += block.shape[1]
                if gl is not None and wav is not None:
                    for y in gl.push(block):
                        wav.write(y * scale)
            if gl is not None and wav is not None:
                for y in gl.finish():
                    wav.write(y * scale)
        finally:
            if wav is not None:
                wav.close()
            mel_out.flush()
            del mel_out
        if write_png:
            mel = np.load(tmp["mel_npy"], mmap_mode="r")
            lv = f", {levels} level(s)" if levels else ""
            render_mel_png(mel, tmp["mel_png"], s.hop_length / s.sample_rate, f"{name}{lv}")
            del mel
    return paths


def decode_path(
    codec: Codec,
    input_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    **kwargs,
) -> list[dict[str, Path]]:
    """Decode a codes file, or every ``*.codes.npz`` under a folder, into ``output_dir``.

    ``levels=K`` below what the model was trained to decode (no quantizer dropout) logs one
    warning: the output is then out of distribution.
    """
    levels = kwargs.get("levels")
    in_range = isinstance(levels, int) and 1 <= levels <= codec.model.num_quantizers
    warning = codec.untrained_levels_warning([levels]) if in_range else None
    if warning:
        log.warning("%s", warning)
    src = Path(input_path).expanduser()
    out = Path(output_dir).expanduser()
    if src.is_dir():
        files = sorted(src.rglob(f"*{SUFFIX}"))
        if not files:
            raise CodecError(f"no {SUFFIX} files under {src}")
        return [decode_file(codec, f, out / f.parent.relative_to(src), **kwargs) for f in files]
    return [decode_file(codec, src, out, **kwargs)]
