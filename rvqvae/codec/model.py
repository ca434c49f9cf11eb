"""A trained model as a codec: weights, mel settings and identity (config + weight hash)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rvqvae.codec.format import CodecError, CodesFile
from rvqvae.data.mel import MelSettings
from rvqvae.models.vqvae import ConvVQVAE, code_positions, latent_shape
from rvqvae.training.checkpoint import (
    CheckpointError,
    model_config,
    model_from_checkpoint,
    read_checkpoint,
)

log = logging.getLogger(__name__)


class CodecMismatchError(CodecError):
    """Codes made by a different model (config, mel settings or weights) than the checkpoint."""


def weights_sha256(module: nn.Module) -> str:
    """sha256 over the state_dict in sorted key order: key, dtype, shape, then raw bytes (CPU)."""
    h = hashlib.sha256()
    state = module.state_dict()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def mel_settings_from_config(config: dict[str, Any]) -> MelSettings:
    """The training run's :class:`MelSettings` (from the resolved config's ``dataset`` node)."""
    return MelSettings.from_config(config.get("dataset", {}))


@dataclass
class Codec:
    """A :class:`ConvVQVAE` in eval mode plus everything needed to encode/decode audio."""

    model: ConvVQVAE
    settings: MelSettings
    chunk_duration_s: float
    normalize_peak: bool
    model_config: dict[str, Any]
    run_config: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    path: Path | None = None
    mean_train_mel: torch.Tensor | None = None  # [1, n_mels, chunk_frames] or None
    silence_threshold_db: float = -60.0

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], device: str = "cpu") -> Codec:
        """Load through the one safe loader (``weights_only=True``) and rebuild the model."""
        checkpoint = read_checkpoint(path, map_location="cpu")
        config = checkpoint["rvqvae"].get("config") or {}
        margs = model_config(checkpoint)
        model = model_from_checkpoint(checkpoint, path)
        ds = config.get("dataset", {})
        try:
            settings = mel_settings_from_config(config)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: invalid mel settings in its config ({exc})") from None
        mean = checkpoint["state_dict"].get("mean_train_mel")
        return cls(
            model=model.eval().to(device),
            settings=settings,
            chunk_duration_s=float(ds.get("chunk_duration_s", 1.0)),
            normalize_peak=bool(ds.get("normalize_peak", True)),
            model_config=margs,
            run_config=config,
            weights_sha256=weights_sha256(model),
            path=Path(path),
            mean_train_mel=mean if mean is not None and mean.numel() else None,
            silence_threshold_db=float(ds.get("silence_threshold_db", -60.0)),
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def chunk_frames(self) -> int:
        """Mel frames per chunk (94 for 1 s at 48 kHz / hop 512)."""
        return self.settings.chunk_frames(self.chunk_duration_s)

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """Latent grid (H, W) of one chunk."""
        return latent_shape(self.settings.n_mels, self.chunk_frames)

    @property
    def positions_per_second(self) -> float:
        """Code positions per second of audio (as the training summary counts them)."""
        return code_positions(self.settings.n_mels, self.chunk_frames) / self.chunk_duration_s

    def bitrate_bps(self) -> float:
        return self.model.bitrate_bps(self.positions_per_second)

    @torch.no_grad()
    def encode_chunks(self, mels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Mels ``[B, 1, n_mels, T]`` -> (indices ``[B, H*W, Q]`` long, (H, W))."""
        emb = self.model.encode(mels.to(self.device))  # [B, D, H, W]
        _, indices, _ = self.model.quantize(emb)
        return indices, (int(emb.shape[2]), int(emb.shape[3]))

    @torch.no_grad()
    def decode_chunks(
        self,
        indices: torch.Tensor,
        spatial_shape: tuple[int, int],
        n_frames: int,
        levels: int | None = None,
    ) -> torch.Tensor:
        """Indices ``[B, H*W, Q]`` -> mels ``[B, 1, n_mels, n_frames]`` from ``levels`` levels."""
        target = (self.settings.n_mels, int(n_frames))
        idx = indices.to(self.device).long()
        return self.model.decode_codes(idx, tuple(spatial_shape), target, levels=levels)

    def untrained_levels_warning(self, levels: list[int] | range) -> str | None:
        """A one-line warning when decoding with some of ``levels`` (numbers of levels) feeds
        the decoder partial sums it never saw in training (no quantizer dropout), else None."""
        untrained = [k for k in levels if not self.model.trained_levels(int(k))]
        if not untrained:
            return None
        where = f"{self.path}" if self.path else "this checkpoint"
        if self.model.quantize_dropout:
            why = (
                "was trained with quantizer dropout keeping at least "
                f"{self.model.quantizer.quantize_dropout_cutoff_index + 1} levels"
            )
        else:
            why = "was not trained with quantizer dropout (model.quantize_dropout=false)"
        shown = ", ".join(str(k) for k in untrained)
        return (
            f"{where} {why}: decoding with {shown} of {self.model.num_quantizers} levels feeds "
            "the decoder partial sums it never saw, so those figures are out of distribution"
        )

    def check_compatible(self, codes: CodesFile, allow_mismatch: bool = False) -> list[str]:
        """Differences between ``codes``' model identity and this codec's.

        Raises:
            CodecMismatchError: there are differences and ``allow_mismatch`` is false.
        """
        problems = []
        if codes.weights_sha256 != self.weights_sha256:
            problems.append(
                f"weights sha256 {codes.weights_sha256[:12]} != checkpoint "
                f"{self.weights_sha256[:12]}"
            )
        if _canon(codes.model_config) != _canon(self.model_config):
            diff = sorted(
                k
                for k in set(codes.model_config) | set(self.model_config)
                if codes.model_config.get(k) != self.model_config.get(k)
            )
            problems.append(f"model config differs in {', '.join(diff) or 'key order'}")
        theirs = codes.settings.to_dict() | {"fmax": codes.settings.f_max}
        ours = self.settings.to_dict() | {"fmax": self.settings.f_max}
        if theirs != ours:
            differ = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
            problems.append(f"mel settings differ in {', '.join(differ)}")
        if problems and not allow_mismatch:
            where = f" {self.path}" if self.path else ""
            raise CodecMismatchError(
                f"{codes.path or 'codes'}: made by a different model than checkpoint{where}: "
                f"{'; '.join(problems)} (pass allow_mismatch=true to decode anyway)"
            )
        for p in problems:
            log.warning("allow_mismatch: decoding despite %s", p)
        return problems


def _canon(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, default=str)
