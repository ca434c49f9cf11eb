"""Training entry point (``python -m rvqvae.train``). The Lightning loop lands with the training issue."""

from __future__ import annotations

from rvqvae.training.config import get_adaptive_vqvae_config


def main() -> None:
    """Print the configuration a default run will use."""
    cfg = get_adaptive_vqvae_config(32)
    print(f"rvqvae: training is not wired yet; a 32-file synth run would use {cfg}")


if __name__ == "__main__":
    main()
