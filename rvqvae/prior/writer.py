"""Write generated samples: WAV (the run's vocoder or Griffin-Lim, exact length), mel PNG,
and optionally codes with their code grid view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rvqvae.codec.model import Codec
from rvqvae.vocoder.synthesize import Synthesizer


def write_sample(
    codec: Codec,
    mel: Tensor | np.ndarray,
    num_samples: int,
    folder: Path,
    name: str,
    griffin_lim_iters: int = 32,
    grid: Tensor | None = None,
    generator: dict[str, Any] | None = None,
    synthesizer: Synthesizer | None = None,
) -> dict[str, Path]:
    """``<name>.wav`` (``num_samples`` samples, by ``synthesizer``, default Griffin-Lim with
    ``griffin_lim_iters``) and ``<name>.png`` of ``mel [n_mels, frames]``; with ``grid [rows,
    cols, Q]`` also ``<name>.codes.npz`` (readable by ``rvqvae.decode``) and ``<name>_grid.png``
    (:func:`write_codes`)."""
    import soundfile as sf

    from rvqvae.atomic import atomic_path
    from rvqvae.codec.png import save_mel_png

    folder.mkdir(parents=True, exist_ok=True)
    s = codec.settings
    mel_np = np.asarray(mel.detach().cpu() if isinstance(mel, Tensor) else mel, dtype=np.float32)
    synth = synthesizer or Synthesizer(s, None, griffin_lim_iters)
    audio = synth(mel_np, num_samples)
    paths = {"wav": folder / f"{name}.wav", "png": folder / f"{name}.png"}
    with atomic_path(paths["wav"]) as tmp:
        sf.write(tmp, audio, s.sample_rate, format="WAV")
    save_mel_png(mel_np, paths["png"], s.hop_length / s.sample_rate, name)
    if grid is not None:
        paths |= write_codes(codec, grid, mel_np, num_samples, folder, name, generator)
    return paths


def write_codes(
    codec: Codec,
    grid: Tensor,
    mel: np.ndarray,
    num_samples: int,
    folder: Path,
    name: str,
    generator: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """``<name>.codes.npz`` of ``grid [rows, cols, Q]`` (readable by ``rvqvae.decode``) and
    ``<name>_grid.png``: the grid's view above ``mel``, the mel it decodes to."""
    from rvqvae.codec.format import save_codes
    from rvqvae.codec.grid import grid_codes_file
    from rvqvae.codec.grid_view import save_codes_view

    folder.mkdir(parents=True, exist_ok=True)
    codes = grid_codes_file(codec, grid.cpu().numpy(), num_samples, name, generator or {})
    size = codec.model.codebook_size
    return {
        "codes": save_codes(codes, folder / f"{name}.codes.npz"),
        "grid": save_codes_view(
            grid.cpu(), mel, folder / f"{name}_grid.png", codec.settings, size, name
        ),
    }
