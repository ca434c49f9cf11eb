"""The export-safe graphs equal the library's modules (no export involved), and what they
cannot reproduce is refused with one line."""

from __future__ import annotations

import pytest
import torch


def test_encoder_and_decoder_graphs_equal_the_library(tiny_run) -> None:
    from rvqvae.codec.grid import encode_grid
    from rvqvae.codec.model import Codec
    from rvqvae.export.codec_graphs import DecoderGraph, EncoderGraph

    codec = Codec.from_checkpoint(tiny_run.ckpt)
    model = codec.model
    encoder, decoder = EncoderGraph(model).eval(), DecoderGraph(model, 128).eval()
    for frames in (17, 100):  # padding to a multiple of 16, batches of 2
        mel = torch.rand(2, 128, frames) * 4
        with torch.no_grad():
            codes = encoder(mel)
        assert torch.equal(codes, encode_grid(model, mel))
        codes[0, :, 1:, 2] = -1  # an unused level decodes as nothing, as in the library
        for levels in (1, 2, 3):
            rows, cols = codes.shape[1:3]
            flat = codes.reshape(2, rows * cols, 3)
            with torch.no_grad():
                want = model.decode_codes(flat, (rows, cols), (128, cols * 16), levels=levels)[:, 0]
                got = decoder(codes, torch.tensor(levels))
            assert (got - want).abs().max() <= 1e-5


def _assert_graphs_equal_the_library(model) -> None:
    """``model``'s codebooks initialised on random mels, then its ONNX-safe encoder graph gives
    the library's codes and its decoder graph the library's mel (2 levels)."""
    from rvqvae.codec.grid import encode_grid
    from rvqvae.export.codec_graphs import DecoderGraph, EncoderGraph

    mel = torch.rand(2, 128, 48) * 4
    with torch.no_grad():
        model.quantizer.init_codebooks(model.encode(mel[:, None]).flatten(2).mT)
    model.eval()
    with torch.no_grad():
        codes = EncoderGraph(model).eval()(mel)
        assert torch.equal(codes, encode_grid(model, mel))
        rows, cols = codes.shape[1:3]
        want = model.decode_codes(codes.reshape(2, rows * cols, 2), (rows, cols), (128, 48))
        got = DecoderGraph(model, 128).eval()(codes, torch.tensor(2))
    assert (got - want[:, 0]).abs().max() <= 1e-5


def _small(**options: object):
    from rvqvae.models.vqvae import ConvVQVAE

    return ConvVQVAE(codebook_dim=16, codebook_size=8, num_quantizers=2, dropout=0.0, **options)


def test_a_codebook_projection_is_searched_and_decoded_as_the_library_does() -> None:
    torch.manual_seed(0)
    _assert_graphs_equal_the_library(_small(codebook_projection_dim=4))


def test_residual_blocks_are_in_the_graphs() -> None:
    from rvqvae.models.vqvae import ResidualBlock

    torch.manual_seed(0)
    model = _small(residual_blocks=1)
    for block in (m for m in model.modules() if isinstance(m, ResidualBlock)):
        torch.nn.init.normal_(block.body[-1].weight, std=0.5)  # not the identity
    _assert_graphs_equal_the_library(model)


def test_a_quantizer_option_the_search_does_not_reproduce_is_one_line(tiny_run) -> None:
    from rvqvae.codec.model import Codec
    from rvqvae.export import ExportError
    from rvqvae.export.codec_graphs import EncoderGraph

    model = Codec.from_checkpoint(tiny_run.ckpt).model
    model.quantizer.rvq.layers[1]._codebook.use_cosine_sim = True
    with pytest.raises(ExportError, match="^the quantizer uses cosine-similarity codebooks"):
        EncoderGraph(model)


def test_the_vocoder_graph_equals_torch_istft() -> None:
    from rvqvae.data.mel import MelSettings, mel_filterbank
    from rvqvae.export import ExportError
    from rvqvae.export.vocoder_graph import VocoderGraph
    from rvqvae.vocoder.model import VocosGenerator

    settings = MelSettings(sample_rate=16000, n_fft=256, hop_length=64, n_mels=32)
    generator = VocosGenerator(32, 256, 64, dim=16, intermediate_dim=32, num_layers=1).eval()
    generator.set_mel_basis(torch.from_numpy(mel_filterbank(settings).copy()))
    graph = VocoderGraph(generator).eval()
    for frames in (1, 9, 40):
        mel = torch.rand(2, 32, frames) * 6  # log1p values, large ones included (expm1)
        with torch.no_grad():
            assert (graph(mel) - generator(mel)).abs().max() <= 1e-5
    with pytest.raises(ExportError, match="n_fft 256 is not a multiple of hop 96"):
        VocoderGraph(VocosGenerator(32, 256, 96, dim=8, intermediate_dim=8, num_layers=0))


def test_only_the_flat_priors_step_is_exported() -> None:
    from rvqvae.export import ExportError
    from rvqvae.export.prior_graph import PriorStepGraph
    from rvqvae.prior.model import build_prior

    for order in ("depth", "masked"):
        prior = build_prior(order, rows=2, levels=2, codebook_size=8, d_model=8, n_heads=2)
        with pytest.raises(ExportError, match=f"^order={order}: only the flat prior"):
            PriorStepGraph(prior)


def test_a_part_the_exporter_rejects_is_skipped_with_its_reason(tiny_run, tmp_path, monkeypatch):
    from rvqvae.export import run as export_job

    real = export_job.write_graph

    def rejecting(graph, folder, fmt):
        if graph.part == "decoder":
            raise RuntimeError("Exporting the operator 'aten::made_up' is not supported\nmore")
        return real(graph, folder, fmt)

    monkeypatch.setattr(export_job, "write_graph", rejecting)
    cfg = {"ckpt": str(tiny_run.ckpt), "parts": ["encoder", "decoder"], "check": False}
    manifest = export_job.export_run(cfg, tmp_path)
    assert list(manifest["parts"]) == ["encoder"]
    assert manifest["skipped"] == {
        "decoder": "the onnx exporter rejected it (RuntimeError: Exporting the operator "
        "'aten::made_up' is not supported)"
    }
