"""``rvqvae.evaluate``: figures match an independent computation from the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rvqvae import load_model
from rvqvae.codec.evaluation import spectral_metrics
from rvqvae.data.chunks import file_to_chunks
from rvqvae.data.mel import MelSettings


def test_evaluate_matches_independent_computation(trained, tmp_path) -> None:
    from rvqvae.evaluate import run

    cfg = {
        "ckpt": str(trained["ckpt"]),
        "output": str(tmp_path / "eval"),
        "dataset": {"path": str(trained["audio"]), "cache_dir": str(tmp_path / "cache")},
        "batch_size": 4,
        "griffin_lim_iters": 2,
        "max_audio_chunks": 3,
        "speed_files": 1,
    }
    report = run(cfg)
    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved["mel_l1"] == pytest.approx(report["mel_l1"])

    # independent: the data pipeline's file_to_chunks + load_model + plain torch
    model = load_model(str(trained["ckpt"]))
    chunks = torch.from_numpy(
        np.concatenate(
            [
                file_to_chunks(f, MelSettings(), chunk_duration_s=1.0)
                for f in sorted(trained["audio"].glob("*.wav"))
            ]
        )
    )
    assert saved["num_chunks"] == chunks.shape[0]
    with torch.no_grad():
        recon, indices, _ = model(chunks)
        err = (recon - chunks).abs().sum()
        # norm_l1: over the training mean the checkpoint stores (as val/norm_l1 in training)
        state = torch.load(trained["ckpt"], map_location="cpu", weights_only=True)["state_dict"]
        train_base = (chunks - state["mean_train_mel"]).abs().sum()
        eval_base = (chunks - chunks.mean(dim=0, keepdim=True)).abs().sum()
        l1 = (recon - chunks).abs().mean()
        assert saved["mel_l1"] == pytest.approx(float(l1), rel=1e-4)
        assert saved["norm_l1"] == pytest.approx(float(err / train_base), rel=1e-4)
        assert saved["norm_l1_eval_mean"] == pytest.approx(float(err / eval_base), rel=1e-4)
        assert saved["norm_l1_baseline"].startswith("mean training chunk")
        for k in (1, 2):
            rk = model.decode_codes(indices, (8, 6), (128, 94), levels=k)
            assert saved["levels"][str(k)]["mel_l1"] == pytest.approx(
                float((rk - chunks).abs().mean()), rel=1e-4
            )
    codes = indices.numpy().reshape(-1, 3)  # [chunks * positions, levels]
    for level in range(3):  # codebook health by numpy from the codes, not the model's helper
        counts = np.bincount(codes[:, level], minlength=64)
        p = counts[counts > 0] / counts.sum()
        health = saved["codebook"][f"level_{level}"]
        assert health["utilization"] == pytest.approx(np.count_nonzero(counts) / 64)
        assert health["dead_codes"] == int(np.sum(counts == 0))
        assert health["perplexity"] == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-4)
    assert saved["bitrate_bps"] == pytest.approx(48 * 3 * 6)
    assert saved["quantize_dropout"] is False
    assert [saved["levels"][k]["trained"] for k in ("1", "2", "3")] == [False, False, True]
    assert 0 < saved["audio"]["spectral_convergence"] < float("inf")  # toy model: no bound
    assert saved["audio"]["log_spectral_distance_db"] > 0 and saved["audio"]["chunks"] == 3
    for key in ("encode_model", "decode_model", "decode_with_griffin_lim", "encode_end_to_end"):
        assert saved["speed"][f"{key}_x_realtime"] > 0


def test_spectral_metrics_identity_and_scale() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal(48000).astype(np.float32)
    assert spectral_metrics(y, y, 2048, 512) == (0.0, 0.0)
    sc, lsd = spectral_metrics(y, 0.5 * y, 2048, 512)
    assert sc == pytest.approx(0.5, rel=1e-6)
    assert lsd == pytest.approx(20 * np.log10(2), rel=1e-3)


def test_eval_chunks_of_chosen_files(trained, tmp_path) -> None:
    from rvqvae.codec.evaluation import load_eval_chunks
    from rvqvae.codec.model import Codec

    codec = Codec.from_checkpoint(trained["ckpt"])
    files = sorted(trained["audio"].glob("*.wav"))
    every, _, _ = load_eval_chunks(codec, trained["audio"], tmp_path / "cache")
    some, sources, _ = load_eval_chunks(codec, None, tmp_path / "cache", files=files[:2])
    expected = np.concatenate(
        [file_to_chunks(f, MelSettings(), chunk_duration_s=1.0) for f in files[:2]]
    )
    assert {f for f, _ in sources} == set(files[:2])
    torch.testing.assert_close(some, torch.from_numpy(expected))
    assert some.shape[0] < every.shape[0]
