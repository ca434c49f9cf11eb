"""Codes files -> mel + audio, streaming in bounded memory.

Indices in batches -> chunk mels -> sin^2 overlap-add (weights sum to one), or the grid through
the decoder in one pass -> ``.npy`` (memory-mapped, written incrementally), PNG, and WAV via
block-wise synthesis (:mod:`rvqvae.vocoder.synthesize`: the run's vocoder or
Griffin-Lim). Every output goes to a temporary file and replaces its target only once
the whole file decoded. Output length is exactly the original length in samples.
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
    SUFFIX,
    CodecError,
    CodesFile,
    check_decodable,
    load_codes,
)
from rvqvae.codec.grid import decode_grid_file
from rvqvae.codec.model import Codec
from rvqvae.codec.png import render_mel_png
from rvqvae.data.chunks import MelStitcher
from rvqvae.progress import progress
from rvqvae.vocoder.synthesize import Synthesizer

log = logging.getLogger(__name__)


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
    synthesizer: Synthesizer | None = None,
) -> dict[str, Path]:
    """Decode one codes file to ``<name>.mel.npy``, ``<name>.mel.png`` and ``<name>.wav``
    (audio by ``synthesizer``, block-wise; default Griffin-Lim with ``griffin_lim_iters``).

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
            synth = synthesizer or Synthesizer(s, None, griffin_lim_iters)
            gl = synth.stream(
                codes.num_frames, codes.num_samples, griffin_lim_block_s, griffin_lim_overlap_s
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
        return [
            decode_file(codec, f, out / f.parent.relative_to(src), **kwargs)
            for f in progress(files, "decode")
        ]
    return [decode_file(codec, src, out, **kwargs)]
