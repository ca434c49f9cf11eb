"""Prior speed on the default run's sizes (untrained weights: speed only): training tokens/s,
sampling tokens/s with and without the KV cache, and a whole ``rvqvae.generate`` run.

    .venv/bin/python benchmarks/prior.py [--train-steps 10] [--train-budget 30] [--sample-seconds S]

About 60-70 s on 2 shared cores, most of it the training steps.

The VQ-VAE is the default synth run's ``ConvVQVAE`` (``benchmarks/train_step.build_model``:
3 levels, codebook 128, dim 128); the prior is ``build_prior`` with the size the VQ-VAE's file
count gives (96 synth files -> ``medium``, ``get_prior_config``), on 8 rows x 3 levels = 24
slots per column, 5.86 columns per second of audio.

- *train*: ``PriorModule.training_step`` (the masked token cross-entropy) + backward +
  grad-norm clipping + AdamW (``configure_optimizers``' parameter groups) on random windows of
  ``context_columns`` columns at the size's batch size; tokens = batch x columns x slots. One
  warm-up step, then up to 10 timed steps within a 30 s budget (about 2 s a step on 2 idle cores).
- *sample*: ``prior.generate`` (KV cache) with ``make_picker(SamplingSettings(), ...)``, batch 4,
  on one intra-op thread as ``rvqvae.prior.evaluation.sample`` runs it.
- *batch 1*: the same for one sample (``sample_b1_*``: codes x real time = seconds of audio per
  second of sampling), best of 2 runs on 1 intra-op thread and on 2; the load average beside it
  (on a shared machine 2 threads lose badly: spinning workers wait for a core).
- *no cache*: the same picks drawn by recomputing the transformer over the whole prefix for
  every token, over a short length; the cached run of that same length gives the speed-up.
- *generate*: ``rvqvae.generate``'s defaults (conf/generate.yaml: 4 samples x 8 s, Griffin-Lim
  iterations): ``evaluation.sample`` (codes, then ``decode_grid`` in one pass), then
  ``mel_to_audio`` per sample as ``prior.writer.write_sample`` calls it (files not written).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CONFIG_DIR, compose_plain, load_average, print_figures, timed  # noqa: E402
from train_step import build_model, random_mels  # noqa: E402

SAMPLE_BATCH = 4
SAMPLING_THREADS = 1  # rvqvae.prior.evaluation.sample draws codes on one intra-op thread


def _conf(name: str) -> Any:
    """``conf/<name>.yaml`` unresolved (only plain keys are read from it)."""
    from omegaconf import OmegaConf

    return OmegaConf.load(Path(CONFIG_DIR) / f"{name}.yaml")


def build_codec(plain: dict[str, Any]) -> Any:
    """A :class:`rvqvae.codec.model.Codec` around the default run's VQ-VAE (random weights)."""
    import torch

    from rvqvae.codec.model import Codec, mel_settings_from_config

    model = build_model(plain)
    with torch.no_grad():
        model.quantizer.init_codebooks(model.encode(random_mels(16)).flatten(2).mT)
    return Codec(
        model=model.eval(),
        settings=mel_settings_from_config(plain),
        chunk_duration_s=float(plain["dataset"]["chunk_duration_s"]),
        normalize_peak=bool(plain["dataset"].get("normalize_peak", True)),
        model_config=dict(plain["model"]),
    )


def build_default_prior(plain: dict[str, Any], codec: Any) -> tuple[Any, Any]:
    """``(prior, PriorConfig)``: the prior ``train_prior`` builds for this VQ-VAE's file count."""
    from rvqvae.prior.config import get_prior_config
    from rvqvae.prior.model import build_prior

    cfg = get_prior_config(int(plain["dataset"]["file_count"]))
    vq = codec.model
    arch = ("order", "slot_order", "d_model", "n_layers", "n_heads", "depth_layers", "dropout")
    prior = build_prior(
        rows=-(-codec.settings.n_mels // 16),
        levels=vq.num_quantizers,
        codebook_size=vq.codebook_size,
        context_columns=cfg.context_columns,
        **{k: getattr(cfg, k) for k in arch},
    )
    return prior, cfg


def train_throughput(
    prior: Any, cfg: Any, steps: int = 10, warmup: int = 1, budget_s: float = 30.0
) -> dict[str, float]:
    """Tokens/s of training steps on random full windows ``[batch, context, slots]``: ``warmup``
    untimed steps, then up to ``steps`` timed ones, stopping early (after at least 2) once
    ``budget_s`` seconds have passed (about 2 s a step on 2 idle cores)."""
    import torch

    from rvqvae.prior.module import PriorModule

    module = PriorModule(prior)  # for its training_step; the optimizer is below
    module.train()
    named = list(prior.named_parameters())
    decay = [p for n, p in named if p.ndim >= 2 and "emb" not in n]  # as configure_optimizers
    rest = [p for n, p in named if not (p.ndim >= 2 and "emb" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=cfg.learning_rate,
        betas=(0.9, 0.95),
    )
    clip = float(_conf("train_prior").trainer.gradient_clip_val or 0.0)
    b, c, s = cfg.batch_size, cfg.context_columns, prior.slots
    g = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.randint(prior.codebook_size, (b, c, s), generator=g),
            torch.ones(b, c, dtype=torch.bool),
        )
        for _ in range(2)
    ]

    def step(i: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss = module.training_step(batches[i % 2], i)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(prior.parameters(), clip)
        opt.step()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")  # no Trainer attached
        for i in range(warmup):
            step(i)
        started, done = time.perf_counter(), 0
        while done < steps and (done < 2 or time.perf_counter() - started < budget_s):
            step(warmup + done)
            done += 1
        seconds = time.perf_counter() - started
    return {
        "prior.train_tokens_per_s": done * b * c * s / seconds,
        "prior.train_step_s": seconds / done,
        "prior.train_steps_timed": done,
        "prior.train_batch": b,
        "prior.train_clip_norm": clip,
    }


def _picker(seed: int = 0) -> Any:
    import torch

    from rvqvae.prior.sampling import SamplingSettings, make_picker

    return make_picker(SamplingSettings(), torch.Generator().manual_seed(seed))


def sample_uncached(prior: Any, batch: int, columns: int, pick: Any) -> Any:
    """Codes ``[batch, columns, S]`` drawn token by token, each from a full forward pass over
    the prefix (no KV cache); ``columns <= context_columns``."""
    import torch

    from rvqvae.prior.model import FlatPrior

    s = prior.slots
    out = torch.zeros(batch, columns, s, dtype=torch.long, device=prior.bos.device)
    with torch.no_grad():
        for c in range(columns):
            for slot in range(s):
                window = out[:, : c + 1]
                if isinstance(prior, FlatPrior):  # exactly the prefix: BOS + c * s + slot tokens
                    h = prior.transformer(prior._inputs(window, c * s + slot + 1))
                    logits = prior.slot_logits(h[:, -1], slot)
                else:  # teacher-forced logits of the window (the current column recomputed)
                    logits = prior(window)[:, c, slot]
                out[:, c, slot] = pick(logits)
    return out


def sampling_speed(
    prior: Any, column_s: float, seconds: float = 2.5, nocache_columns: int = 2
) -> dict[str, float]:
    """Cached ``generate`` over ``seconds`` of audio, and cached vs uncached over a few columns."""
    import torch

    from rvqvae.vocoder.griffinlim import torch_threads

    s = prior.slots
    columns = max(1, round(seconds / column_s))
    prior.eval()
    with torch.no_grad(), torch_threads(SAMPLING_THREADS):
        prior.generate(SAMPLE_BATCH, 2, _picker())  # warm-up
        long_s, _ = timed(lambda: prior.generate(SAMPLE_BATCH, columns, _picker()))
        short_s, cached = timed(lambda: prior.generate(SAMPLE_BATCH, nocache_columns, _picker()))
        sample_uncached(prior, SAMPLE_BATCH, 1, _picker())  # warm-up
        uncached_s, uncached = timed(
            lambda: sample_uncached(prior, SAMPLE_BATCH, nocache_columns, _picker())
        )
        single = {}  # batch 1 (one sample, as rvqvae.generate's studio and editing draw it)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            prior.generate(1, 2, _picker())  # warm-up
            single[threads] = min(
                timed(lambda: prior.generate(1, columns, _picker()))[0] for _ in range(2)
            )
    short_tokens = SAMPLE_BATCH * nocache_columns * s
    return {
        "prior.sample_tokens_per_s": SAMPLE_BATCH * columns * s / long_s,
        "prior.sample_codes_x_realtime": SAMPLE_BATCH * columns * column_s / long_s,
        "prior.sample_batch": SAMPLE_BATCH,
        "prior.sample_columns": columns,
        "prior.sample_threads": SAMPLING_THREADS,
        "prior.sample_b1_tokens_per_s": columns * s / single[SAMPLING_THREADS],
        "prior.sample_b1_codes_x_realtime": columns * column_s / single[SAMPLING_THREADS],
        "prior.sample_b1_codes_x_realtime_1thread": columns * column_s / single[1],
        "prior.sample_b1_codes_x_realtime_2threads": columns * column_s / single[2],
        "prior.sample_b1_load_average": load_average(),
        "prior.nocache_columns": nocache_columns,
        "prior.nocache_tokens_per_s": short_tokens / uncached_s,
        "prior.cache_tokens_per_s_same_length": short_tokens / short_s,
        "prior.cache_speedup": uncached_s / short_s,
        "prior.nocache_same_codes_fraction": float((cached == uncached).float().mean()),
    }


def full_generation(prior: Any, codec: Any) -> dict[str, float]:
    """``rvqvae.generate``'s default run (codes, one-pass decode, Griffin-Lim), no files."""
    from rvqvae.prior.evaluation import sample
    from rvqvae.prior.sampling import SamplingSettings
    from rvqvae.vocoder.griffinlim import mel_to_audio

    gen = _conf("generate")
    num, seconds, iters = int(gen.num_samples), float(gen.seconds), int(gen.griffin_lim_iters)
    prior.eval()
    t0 = time.perf_counter()
    samples = sample(prior, codec, num, seconds, SamplingSettings(), seed=int(gen.seed))
    t1 = time.perf_counter()
    for k in range(num):  # as write_sample: float32 numpy mel, exact length
        mel = samples.mels[k].detach().cpu().numpy()
        mel_to_audio(mel, codec.settings, n_iter=iters, length=samples.num_samples)
    t2 = time.perf_counter()
    wall = t2 - t0
    return {
        "prior.generate_wall_s": wall,
        "prior.generate_codes_s": samples.sampling_seconds,
        "prior.generate_decode_s": (t1 - t0) - samples.sampling_seconds,
        "prior.generate_vocoder_s": t2 - t1,
        "prior.generate_x_realtime": num * seconds / wall,
        "prior.generate_codes_x_realtime": num * seconds / samples.sampling_seconds,
        "prior.generate_samples": num,
        "prior.generate_seconds": seconds,
        "prior.griffin_lim_iters": iters,
    }


def run(
    train_steps: int = 10,
    sample_seconds: float = 2.5,
    nocache_columns: int = 2,
    train_budget_s: float = 30.0,
) -> dict[str, float | str]:
    """All prior figures as flat ``prior.*`` keys (prints one summary line)."""
    import torch

    from rvqvae.models.vqvae import DOWNSAMPLE

    _, plain = compose_plain([], Path(tempfile.mkdtemp(prefix="rvqvae-bench-prior-")))
    codec = build_codec(plain)
    prior, cfg = build_default_prior(plain, codec)
    ms = codec.settings
    column_s = DOWNSAMPLE * ms.hop_length / ms.sample_rate
    results: dict[str, float | str] = {
        "prior.size": cfg.size,
        "prior.order": cfg.order,
        "prior.params": prior.num_parameters,
        "prior.context_columns": cfg.context_columns,
        "prior.slots": prior.slots,
        "prior.columns_per_s": 1.0 / column_s,
        "prior.torch_threads": torch.get_num_threads(),
    }
    results.update(train_throughput(prior, cfg, train_steps, budget_s=train_budget_s))
    results.update(sampling_speed(prior, column_s, sample_seconds, nocache_columns))
    results.update(full_generation(prior, codec))
    results["prior.load_average"] = load_average()
    r = results
    print(
        f"prior {r['prior.size']} ({r['prior.params']:,} params, {r['prior.torch_threads']} "
        f"threads): train {r['prior.train_tokens_per_s']:,.0f} tok/s; sample "
        f"{r['prior.sample_tokens_per_s']:,.0f} tok/s ({r['prior.sample_codes_x_realtime']:.1f}x "
        f"real time; batch 1: {r['prior.sample_b1_codes_x_realtime']:.1f}x on 1 thread, "
        f"{r['prior.sample_b1_codes_x_realtime_2threads']:.1f}x on 2), no cache "
        f"{r['prior.nocache_tokens_per_s']:,.0f} tok/s "
        f"(cache {r['prior.cache_speedup']:.1f}x over {nocache_columns} columns); generate "
        f"{r['prior.generate_samples']} x {r['prior.generate_seconds']:g} s in "
        f"{r['prior.generate_wall_s']:.1f} s (codes {r['prior.generate_codes_s']:.1f}, decode "
        f"{r['prior.generate_decode_s']:.2f}, Griffin-Lim {r['prior.generate_vocoder_s']:.1f})  "
        f"[load {load_average()}]"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--sample-seconds", type=float, default=2.5)
    parser.add_argument("--nocache-columns", type=int, default=2)
    parser.add_argument("--train-budget", type=float, default=30.0, help="seconds of timed steps")
    args = parser.parse_args()
    figures = run(args.train_steps, args.sample_seconds, args.nocache_columns, args.train_budget)
    print_figures(figures)


if __name__ == "__main__":
    main()
