"""Audio -> codes files, streaming in bounded memory.

:class:`~rvqvae.data.io.AudioReader` blocks -> streaming log-mel -> overlapping chunks (hop =
``(1 - overlap) * chunk_frames``) -> model in batches -> indices (layout ``"chunks"``), or the
whole mel -> one code grid (layout ``"grid"``, :mod:`rvqvae.codec.grid`). Decoding is in
:mod:`rvqvae.codec.decoding`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from rvqvae.codec.format import (
    LAYOUTS,
    SUFFIX,
    CodecError,
    CodesFile,
    codes_dtype,
    save_codes,
)
from rvqvae.codec.grid import encode_grid_file
from rvqvae.codec.model import Codec
from rvqvae.data.chunks import stream_chunks
from rvqvae.data.discovery import discover_audio_files
from rvqvae.data.io import DEFAULT_BLOCK_SAMPLES, AudioReader, BadAudioFile
from rvqvae.data.mel import frames_for, stream_mel
from rvqvae.progress import progress

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
    names = _output_names(files, root, SUFFIX)
    for f, rel in progress(zip(files, names), "encode", total=len(files)):
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
        log.info(
            "%s -> %s (%s: %d x %s)",
            f,
            target,
            layout,
            codes.num_chunks,
            shape,
            extra={"console": False},  # the bar and the closing line say it on the console
        )
    if not written:
        first = f" (first: {bad[0][0].name}: {bad[0][1]})" if bad else ""
        raise CodecError(f"no file under {src} could be encoded{first}")
    return written, bad
