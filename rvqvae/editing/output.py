"""Write an edit's result: a grid codes file (edit history in its ``generator`` metadata), a WAV
through the synthesis entry point and the code grid view PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rvqvae.codec.format import save_codes
from rvqvae.codec.grid import decode_grid, grid_codes_file
from rvqvae.codec.grid_view import save_grid_view
from rvqvae.codec.model import Codec
from rvqvae.editing.ranges import column_seconds
from rvqvae.vocoder.synthesize import Synthesizer


def decode_mel(codec: Codec, grid: Tensor, num_samples: int) -> np.ndarray:
    """The mel ``[n_mels, frames]`` of ``grid`` for ``num_samples`` samples of audio."""
    frames = codec.settings.frames_for(num_samples)
    return decode_grid(codec.model, grid.long(), frames, codec.settings.n_mels).numpy()


def write_edit(
    codec: Codec,
    grid: Tensor,
    num_samples: int,
    folder: Path,
    name: str,
    history: list[dict[str, Any]],
    synthesizer: Synthesizer | None,
    marks_s: Sequence[float] = (),
) -> dict[str, Path]:
    """``<name>.codes.npz`` (``generator = {"history": history}``, readable by
    ``rvqvae.decode``), ``<name>.wav`` (``synthesizer``; ``None``: no audio) and ``<name>.png``
    (code grid view with lines at ``marks_s``) in ``folder``."""
    import soundfile as sf

    from rvqvae.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    s = codec.settings
    codes = grid_codes_file(
        codec, grid.cpu().numpy(), num_samples, name, {"history": list(history)}
    )
    paths = {"codes": save_codes(codes, folder / f"{name}.codes.npz")}
    mel = decode_mel(codec, grid, num_samples)
    if synthesizer is not None:
        paths["wav"] = folder / f"{name}.wav"
        with atomic_path(paths["wav"]) as tmp:
            sf.write(tmp, synthesizer(mel, num_samples), s.sample_rate, format="WAV")
    paths["png"] = save_grid_view(
        grid.cpu(),
        mel,
        folder / f"{name}.png",
        column_seconds(s),
        s.hop_length / s.sample_rate,
        codec.model.codebook_size,
        name,
        marks_s,
    )
    return paths
