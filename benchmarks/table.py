"""Markdown table of ``benchmarks/results.json`` (for the README).

.venv/bin/python benchmarks/table.py [results.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, fmt  # noqa: E402

# (key, label, target as (op, value) or None)
ROWS: list[tuple[str, str, tuple[str, float] | None]] = [
    ("train.bare_samples_per_s", "bare step, samples/s (batch 32)", None),
    ("train.pipeline_samples_per_s", "full pipeline, samples/s (whole epochs)", None),
    ("train.pipeline_vs_bare_ratio", "pipeline / bare (same run)", (">=", 0.9)),
    ("train.pipeline_with_previews_vs_bare_ratio", "  incl. previews amortised", None),
    ("train.flops_per_sample", "model FLOPs per sample (fwd+bwd)", None),
    ("train.matmul_flops_per_s", "float32 matmul 2048^3, FLOP/s", None),
    ("train.flops_fraction_of_matmul", "achieved FLOP/s / matmul FLOP/s", (">=", 0.5)),
    ("data.cold_x_realtime", "dataset ready, cold cache, x real time", (">=", 50)),
    ("data.warm_x_realtime", "dataset ready, warm cache, x real time", (">=", 1000)),
    ("data.first_mel_s", "first mel in a fresh process, s", None),
    ("startup.first_step_s", "launch -> first step, warm cache, s", ("<=", 10)),
    ("startup.first_step_cold_s", "launch -> first step, cold cache, s", None),
    ("startup.help_s", "`--help`, s", None),
    ("startup.cfg_job_s", "`--cfg job`, s", None),
    ("sweep.serial_wall_s", "4 jobs serial, s", None),
    ("sweep.joblib_wall_s", "4 jobs joblib (2 x 1 thread), s", None),
    ("sweep.joblib_vs_serial_wall_ratio", "joblib / serial wall", ("<=", 0.65)),
    ("codec.encode_x_realtime", "codec encode (model), x real time", None),
    ("codec.decode_x_realtime", "codec decode (model), x real time", None),
    ("codec.decode_gl_x_realtime", "codec decode + Griffin-Lim, x real time", None),
    ("prior.train_tokens_per_s", "prior training, tokens/s (fwd+bwd+AdamW)", None),
    ("prior.sample_tokens_per_s", "prior sampling (KV cache), tokens/s", None),
    ("prior.sample_codes_x_realtime", "prior sampling (KV cache), codes x real time", None),
    ("prior.nocache_tokens_per_s", "prior sampling without cache, tokens/s", None),
    ("prior.cache_speedup", "KV cache speed-up (same length, same run)", None),
    ("prior.generate_wall_s", "generate 4 x 8 s (codes + decode + Griffin-Lim), s", None),
    ("prior.generate_codes_s", "  of which codes, s", None),
    ("prior.generate_decode_s", "  of which VQ-VAE decode, s", None),
    ("prior.generate_vocoder_s", "  of which Griffin-Lim, s", None),
    ("prior.generate_x_realtime", "generate with audio, x real time", None),
    ("gpu.pipeline_vs_bare_ratio", "GPU pipeline / bare (bf16, batch 32)", None),
    ("gpu_sweep.serial_wall_s", "9-job sweep on one GPU: serial, s", None),
    ("gpu_sweep.shared_wall_s", "9-job sweep on one GPU: shared (gpu_shared, 3 per GPU), s", None),
    ("gpu_sweep.throughput_ratio", "9-job sweep on one GPU: serial / shared wall", (">=", 3)),
]


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table plus one line naming the machine."""
    lines = ["| figure | value | target |", "|---|---|---|"]
    for key, label, target in ROWS:
        if key not in results:
            continue
        value = results[key]
        goal = ""
        if target is not None:
            op, bound = target
            ok = value >= bound if op == ">=" else value <= bound
            goal = f"{op} {bound:g} {'met' if ok else '**missed**'}"
        lines.append(f"| {label} | {fmt(value)} | {goal} |")
    gpu = [k for k in results if k.startswith("gpu.bare_bf16_samples_per_s.b")]
    for key in sorted(gpu, key=lambda k: int(k.rsplit(".b", 1)[1])):
        b = key.rsplit(".b", 1)[1]
        frac = results.get(f"gpu.flops_fraction_of_matmul.b{b}")
        lines.append(
            f"| GPU bf16 batch {b}: samples/s (fraction of bf16 matmul) | "
            f"{fmt(results[key])} ({fmt(frac)}) | |"
        )
    machine = (
        f"Machine: {results.get('machine.cpu', '?')}, {results.get('machine.cores', '?')} cores, "
        f"torch {results.get('machine.torch', '?')}"
        + (f", GPU {results['machine.gpu']}" if results.get("machine.gpu") else "")
        + f"; load average at start {results.get('machine.load_average', '?')}, "
        f"at end {results.get('machine.load_average_end', '?')}"
        + (f"; run on {results['machine.date']}" if results.get("machine.date") else "")
        + "."
        + (f" {results['machine.note']}." if results.get("machine.note") else "")
    )
    return "\n".join(lines) + "\n\n" + machine


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
