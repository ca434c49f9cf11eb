"""The one mel -> audio entry point: ``vocoder=auto|griffinlim|PATH``.

:func:`build_synthesizer` turns the setting into a :class:`Synthesizer`: ``griffinlim``, a
vocoder checkpoint ``PATH``, or ``auto`` = the vocoder installed in the VQ-VAE's run folder
(``RUN/vocoder/vocoder.ckpt``, :func:`rvqvae.vocoder.checkpoint.installed_vocoder`) when there
is one, else Griffin-Lim. ``Synthesizer.describe()`` is the one line that says which.

Long mels go through the generator block-wise (:class:`StreamingVocoder`): block ``[a, b)``
of output frames is computed from mel frames ``[a - m - R, b + m + R)`` (``R`` the generator's
receptive radius, ``m`` the frames an output sample's window reaches), so every kept sample is
the whole-file synthesis's sample, up to float rounding: bounded memory, no seams, exact length.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rvqvae.data.mel import MelSettings
from rvqvae.vocoder.checkpoint import LoadedVocoder, installed_vocoder, load_vocoder
from rvqvae.vocoder.griffinlim import StreamingGriffinLim, torch_threads

log = logging.getLogger(__name__)

BLOCK_FRAMES = 2048  # output frames per generator call (~22 s at 48 kHz / hop 512)


class StreamingVocoder:
    """Block-wise generator synthesis; ``push`` mel blocks in order, then ``finish``: the audio
    returned concatenates to exactly ``num_samples`` samples (the interface of
    :class:`~rvqvae.vocoder.griffinlim.StreamingGriffinLim`)."""

    def __init__(
        self,
        vocoder: LoadedVocoder,
        num_frames: int,
        num_samples: int,
        block_frames: int = BLOCK_FRAMES,
    ) -> None:
        g = vocoder.generator
        self.generator = g
        self.num_frames, self.num_samples = int(num_frames), int(num_samples)
        self.block_frames = max(1, int(block_frames))
        self.margin = math.ceil(g.n_fft / 2 / g.hop_length) + 1  # frames a sample's window reaches
        self.context = self.margin + g.receptive_radius
        self.mel = np.zeros((vocoder.settings.n_mels, 0), np.float32)  # frames from mel0
        self.mel0 = 0
        self.next = 0  # first output frame not yet synthesised
        self.emitted = 0

    def push(self, mel_block: np.ndarray) -> list[np.ndarray]:
        self.mel = np.concatenate([self.mel, np.asarray(mel_block, np.float32)], axis=1)
        out = []
        while self.next < self.num_frames:
            b = min(self.num_frames, self.next + self.block_frames)
            if self.mel0 + self.mel.shape[1] < min(self.num_frames, b + self.context):
                break
            out += self._run(self.next, b)
        return out

    def finish(self) -> list[np.ndarray]:
        out = self.push(np.zeros((self.mel.shape[0], 0), np.float32))
        if self.emitted < self.num_samples:  # a mel shorter than announced
            out.append(np.zeros(self.num_samples - self.emitted, np.float32))
            self.emitted = self.num_samples
        return out

    @torch.no_grad()
    def _run(self, a: int, b: int) -> list[np.ndarray]:
        g, hop, t = self.generator, self.generator.hop_length, self.num_frames
        p, q = max(0, a - self.margin), min(t, b + self.margin)  # spectrum frames
        lo, hi = max(0, p - g.receptive_radius), min(t, q + g.receptive_radius)  # mel frames
        mel = torch.from_numpy(self.mel[:, lo - self.mel0 : hi - self.mel0])[None]
        device = next(g.parameters()).device
        spec = g.spectrum(mel.to(device))[..., p - lo : q - lo]
        y = g.istft(spec, (q - p) * hop)[0, (a - p) * hop : (b - p) * hop].float().cpu().numpy()
        y = y[: max(0, self.num_samples - self.emitted)]
        self.emitted += y.shape[0]
        self.next = b
        drop = max(0, b - self.context) - self.mel0
        if drop > 0:
            self.mel, self.mel0 = self.mel[:, drop:], self.mel0 + drop
        return [y] if y.size else []


class Synthesizer:
    """Log-mel -> audio with a trained vocoder (``vocoder``) or Griffin-Lim (``None``)."""

    def __init__(
        self,
        settings: MelSettings,
        vocoder: LoadedVocoder | None = None,
        griffin_lim_iters: int = 32,
        source: str = "griffinlim",
    ) -> None:
        if vocoder is not None:
            vocoder.check_settings(settings)
        self.settings, self.vocoder = settings, vocoder
        self.griffin_lim_iters = int(griffin_lim_iters)
        self.source = source

    @property
    def kind(self) -> str:
        """``vocoder`` or ``griffinlim``."""
        return "griffinlim" if self.vocoder is None else "vocoder"

    def describe(self) -> str:
        """One line: what turns mels into audio here."""
        if self.vocoder is None:
            return f"Griffin-Lim ({self.griffin_lim_iters} iterations; {self.source})"
        return f"vocoder {self.vocoder.path} ({self.source})"

    def stream(
        self,
        num_frames: int,
        num_samples: int,
        block_s: float = 20.0,
        overlap_s: float = 0.25,
    ) -> StreamingVocoder | StreamingGriffinLim:
        """A block-wise synthesiser (``push`` / ``finish``) for a mel of ``num_frames`` frames."""
        frames_per_s = self.settings.sample_rate / self.settings.hop_length
        block = max(1, round(block_s * frames_per_s))
        if self.vocoder is not None:
            return StreamingVocoder(self.vocoder, num_frames, num_samples, block)
        return StreamingGriffinLim(
            self.settings,
            num_frames,
            num_samples,
            self.griffin_lim_iters,
            block_frames=block,
            overlap=max(1, round(overlap_s * frames_per_s)),
        )

    def __call__(self, mel: np.ndarray | torch.Tensor, length: int | None = None) -> np.ndarray:
        """Audio ``[length]`` (default ``frames * hop``) float32 of ``mel [n_mels, frames]``."""
        if isinstance(mel, torch.Tensor):
            mel = mel.detach().float().cpu().numpy()
        m = np.asarray(mel, np.float32)
        if m.ndim == 3 and m.shape[0] == 1:
            m = m[0]
        n = m.shape[1] * self.settings.hop_length if length is None else int(length)
        if self.vocoder is None:
            from rvqvae.vocoder.griffinlim import mel_to_audio

            return mel_to_audio(m, self.settings, self.griffin_lim_iters, length=n)
        with torch_threads(min(2, torch.get_num_threads())):
            stream = StreamingVocoder(self.vocoder, m.shape[1], n)
            parts = stream.push(m) + stream.finish()
        return np.concatenate(parts) if parts else np.zeros(n, np.float32)


def build_synthesizer(
    spec: str | os.PathLike[str] | None,
    settings: MelSettings,
    vqvae_checkpoint: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    griffin_lim_iters: int = 32,
) -> Synthesizer:
    """``vocoder=auto|griffinlim|PATH`` -> a :class:`Synthesizer` for mels of ``settings``;
    ``auto`` looks in the run folder of each of ``vqvae_checkpoint`` (one or several paths,
    e.g. a prior checkpoint and the VQ-VAE it was trained on) in turn.

    Raises:
        CheckpointError: ``PATH`` is missing, unsafe, not a vocoder, or for other mel settings.
    """
    value = "auto" if spec is None else str(spec)
    if value == "griffinlim":
        return Synthesizer(settings, None, griffin_lim_iters, "vocoder=griffinlim")
    if value == "auto":
        candidates = (
            [vqvae_checkpoint]
            if vqvae_checkpoint is None or isinstance(vqvae_checkpoint, str | os.PathLike)
            else list(vqvae_checkpoint)
        )
        found = next((p for p in map(installed_vocoder, candidates) if p is not None), None)
        if found is None:
            return Synthesizer(
                settings, None, griffin_lim_iters, "vocoder=auto: no vocoder trained for this run"
            )
        return Synthesizer(settings, load_vocoder(found), griffin_lim_iters, "vocoder=auto")
    path = Path(value).expanduser()
    return Synthesizer(settings, load_vocoder(path), griffin_lim_iters, "vocoder=PATH")
