"""``model.residual_blocks``: residual blocks between the strided convolutions. The default (0)
is the seed's plain conv stacks; new blocks start as the identity; they train, are rebuilt
from checkpoints (the export graphs with blocks: ``tests/export/test_graphs.py``)."""

from __future__ import annotations

import pytest
import torch

from rvqvae.models.vqvae import ConvVQVAE, ResidualBlock


def small(**options: object) -> ConvVQVAE:
    return ConvVQVAE(codebook_dim=16, codebook_size=8, num_quantizers=2, dropout=0.0, **options)


def _blocks(model: ConvVQVAE) -> list[ResidualBlock]:
    return [m for m in model.modules() if isinstance(m, ResidualBlock)]


def _plain_layers(seq: torch.nn.Sequential) -> list[torch.nn.Module]:
    return [m for m in seq if not isinstance(m, ResidualBlock)]


def test_default_is_the_plain_stack_and_blocks_sit_at_every_scale() -> None:
    assert _blocks(small()) == []
    model = small(residual_blocks=2)
    widths = [b.body[1].in_channels for b in _blocks(model)]
    encoder, decoder = [32, 32, 64, 64, 128, 128, 256, 256], [256, 256, 128, 128, 64, 64, 32, 32]
    assert widths == encoder + decoder  # after each strided conv; before each transposed conv


def test_new_blocks_are_the_identity_so_training_starts_from_the_plain_model() -> None:
    torch.manual_seed(0)
    plain, blocked = small(), small(residual_blocks=1)
    for a, b in (
        (plain.encoder.convs, blocked.encoder.convs),
        (plain.decoder.deconvs, blocked.decoder.deconvs),
    ):
        for x, y in zip(_plain_layers(a), _plain_layers(b), strict=True):
            y.load_state_dict(x.state_dict())
    for name in ("encoder.proj", "decoder.proj"):
        blocked.get_submodule(name).load_state_dict(plain.get_submodule(name).state_dict())
    blocked.quantizer.load_state_dict(plain.quantizer.state_dict())
    x = torch.rand(2, 1, 128, 40) * 4
    plain.eval(), blocked.eval()
    with torch.no_grad():
        emb_plain, emb_blocked = plain.encode(x), blocked.encode(x)
        torch.testing.assert_close(emb_blocked, emb_plain)
        torch.testing.assert_close(
            blocked.decode(emb_plain, (128, 40)), plain.decode(emb_plain, (128, 40))
        )


def test_blocks_train_and_are_rebuilt_from_a_checkpoint() -> None:
    from rvqvae.safeload import CheckpointError
    from rvqvae.training.checkpoint import model_from_checkpoint

    model = small(residual_blocks=1)
    x = torch.rand(4, 1, 128, 32) * 4
    model.quantizer.init_codebooks(model.encode(x).permute(0, 2, 3, 1).reshape(1, -1, 16))
    recon, _, loss = model(x)
    ((recon - x).abs().mean() + loss).backward()
    last_norms = [b.body[-1].weight for b in _blocks(model)]
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in last_norms)
    config = {"codebook_dim": 16, "codebook_size": 8, "num_quantizers": 2, "dropout": 0.0}
    checkpoint = {
        "rvqvae": {"config": {"model": {**config, "residual_blocks": 1}}},
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
    }
    rebuilt = model_from_checkpoint(checkpoint, "mem.ckpt")
    assert len(_blocks(rebuilt)) == 8
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x)[0], model(x)[0])
    old = {"rvqvae": {"config": {"model": config}}, "state_dict": checkpoint["state_dict"]}
    with pytest.raises(CheckpointError, match="old.ckpt: weights do not match the stored model"):
        model_from_checkpoint(old, "old.ckpt")  # blocks' weights in a checkpoint without the key


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_value_is_one_line(value: object) -> None:
    with pytest.raises(ValueError, match="residual_blocks must be an integer >= 0"):
        small(residual_blocks=value)
