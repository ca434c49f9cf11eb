"""The vocoder's reconstruction loss: multi-resolution STFT (``auraloss``) + log-mel L1."""

from __future__ import annotations

from collections.abc import Sequence

import auraloss
import torch
from torch import Tensor, nn

from rvqvae.data.mel import MelSettings, audio_to_mel_torch


class VocoderLoss(nn.Module):
    """``stft_weight * MR-STFT(y_hat, y) + mel_weight * L1(log-mel(y_hat), log-mel(y))``.

    The MR-STFT term is auraloss' spectral convergence + log-magnitude L1 at each of
    ``fft_sizes`` (hop a quarter, Hann window); the mel term uses the analysis log-mel of
    ``settings`` (:func:`rvqvae.data.mel.audio_to_mel_torch`).
    """

    def __init__(
        self,
        settings: MelSettings,
        fft_sizes: Sequence[int] = (256, 512, 1024, 2048, 4096),
        stft_weight: float = 1.0,
        mel_weight: float = 1.0,
    ) -> None:
        super().__init__()
        sizes = [int(n) for n in fft_sizes]
        if not sizes or min(sizes) < 16:
            raise ValueError(f"loss.fft_sizes must be sizes >= 16, got {list(fft_sizes)!r}")
        self.settings = settings
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=sizes, hop_sizes=[n // 4 for n in sizes], win_lengths=sizes
        )
        self.stft_weight, self.mel_weight = float(stft_weight), float(mel_weight)

    def forward(self, y_hat: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Loss terms of audio ``[B, N]`` against the target ``[B, N]``: ``loss``, ``stft``,
        ``mel_l1``."""
        stft = self.stft(y_hat[:, None].float(), y[:, None].float())
        mel_l1 = torch.nn.functional.l1_loss(
            audio_to_mel_torch(y_hat.float(), self.settings),
            audio_to_mel_torch(y.float(), self.settings),
        )
        loss = self.stft_weight * stft + self.mel_weight * mel_l1
        return {"loss": loss, "stft": stft.detach(), "mel_l1": mel_l1.detach()}
