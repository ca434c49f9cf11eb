"""Markdown table of benchmark results (for the README), with the machine of every row.

.venv/bin/python benchmarks/table.py [results.json ...]

Several files (e.g. ``results.json`` from the CPU machine and one from a GPU host) make one
table; a key found in several files is taken from the last. The machine column names the file
(host CPU or GPU) a row's figure came from, and a footnote per machine gives torch and the date.
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
    ("train.bare_samples_per_s", "bare step, samples/s (batch 32, the run's precision)", None),
    ("train.pipeline_samples_per_s", "full pipeline, samples/s (whole epochs)", None),
    ("train.pipeline_vs_bare_ratio", "pipeline / bare (same run)", (">=", 0.9)),
    ("train.pipeline_with_previews_vs_bare_ratio", "  incl. previews amortised", None),
    ("train.flops_per_sample", "model FLOPs per sample (fwd+bwd)", None),
    ("train.matmul_flops_per_s", "matmul 2048^3 at the run's precision, FLOP/s", None),
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
    ("export.encoder.onnx_speedup", "encode 60 s: onnxruntime / eager speed (2 threads)", None),
    ("export.decoder.onnx_speedup", "decode 60 s: onnxruntime / eager speed", None),
    ("export.vocoder.onnx_speedup", "vocoder 60 s: onnxruntime / eager speed", None),
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
    ("e2e.efficiency", "default run: samples / (bare rate x wall), start-up included", (">=", 0.9)),
    ("e2e.fit_efficiency", "  the same within trainer.fit", None),
    ("e2e.wall_s", "default run wall (41,040 samples), s", None),
    ("e2e.startup_s", "  of which outside trainer.fit, s", None),
    ("e2e.bare_samples_per_s", "  bare step at batch 16 (median before/after), samples/s", None),
    ("e2e.val_norm_l1", "  its val/norm_l1", None),
    ("cpu_options.bf16_vs_fp32", "bare step bf16 autocast / fp32 (batch 16)", None),
    ("cpu_options.channels_last_vs_fp32", "bare step channels_last / fp32", None),
    ("cpu_options.foreach_vs_fp32", "bare step AdamW foreach / fp32", None),
    ("cpu_options.compile_vs_fp32", "bare step torch.compile / fp32 eager", None),
    ("cpu_options.compile_s", "  compile time, s", None),
    ("cpu_options.compile_breakeven_samples", "  pays after, samples", None),
    ("precision.bf16_speedup_wall", "default run bf16-mixed: fp32 wall / bf16 wall (mean)", None),
    (
        "precision.bf16_vs_fp32_val_norm_l1",
        "  val/norm_l1 bf16 / fp32 (mean of seeds)",
        ("<=", 1.01),
    ),
    ("gpu.pipeline_vs_bare_ratio", "GPU pipeline / bare (bf16, batch 32, old CPU-side data)", None),
    ("gpu.pipeline_vs_bare_ratio.b32", "GPU pipeline / bare (bf16, batch 32)", (">=", 0.9)),
    ("gpu.pipeline_vs_bare_ratio.b16", "GPU pipeline / bare (bf16, default batch 16)", (">=", 0.9)),
    ("gpu.compiled_default_vs_eager.b32", "GPU bare step compiled / eager (batch 32)", None),
    (
        "gpu.compiled_reduce_overhead_vs_eager.b32",
        "GPU bare step CUDA graphs / eager (batch 32)",
        (">=", 3),
    ),
    ("gpu.compiled_reduce_overhead_compile_s", "  compile time, s", None),
    ("gpu.compiled_reduce_overhead_flops_fraction.b32", "  fraction of the bf16 matmul rate", None),
    ("gpu.default_run_wall_s", "default run on one GPU, s", ("<=", 30)),
    ("gpu.default_run_val_vs_cpu", "  val/norm_l1 GPU / CPU", ("<=", 1.02)),
    ("gpu_sweep.serial_wall_s", "9-job sweep on one GPU: serial, s", None),
    ("gpu_sweep.shared_wall_s", "9-job sweep on one GPU: shared (gpu_shared, 3 per GPU), s", None),
    ("gpu_sweep.throughput_ratio", "9-job sweep on one GPU: serial / shared wall", (">=", 3)),
]


def machine_label(results: dict[str, Any], key: str) -> str:
    """Where ``key``'s figure was measured: the GPU for gpu rows, else the host CPU."""
    if key.startswith(("gpu.", "gpu_sweep.")):
        return str(results.get("gpu.name") or results.get("gpu_sweep.device") or "GPU")
    return f"{results.get('machine.cores', '?')}-core {results.get('machine.cpu', '?')}"


def markdown(*result_sets: dict[str, Any]) -> str:
    """The results as a markdown table (a machine column) plus a line per machine."""
    lines = ["| figure | value | target | machine |", "|---|---|---|---|"]
    used: dict[tuple[int, str], dict[str, Any]] = {}  # (id of a result set, machine) -> set

    def source(key: str) -> dict[str, Any] | None:
        found = [r for r in result_sets if key in r]
        return found[-1] if found else None

    def row(label: str, value: str, goal: str, results: dict[str, Any], key: str) -> None:
        where = machine_label(results, key)
        used.setdefault((id(results), where), results)
        lines.append(f"| {label} | {value} | {goal} | {where} |")

    for key, label, target in ROWS:
        results = source(key)
        if results is None or results[key] is None:
            continue
        value = results[key]
        goal = ""
        if target is not None:
            op, bound = target
            ok = value >= bound if op == ">=" else value <= bound
            goal = f"{op} {bound:g} {'met' if ok else '**missed**'}"
        row(label, fmt(value), goal, results, key)
    gpu_keys = {k for r in result_sets for k in r if k.startswith("gpu.bare_bf16_samples_per_s.b")}
    for key in sorted(gpu_keys, key=lambda k: int(k.rsplit(".b", 1)[1])):
        results = source(key)
        assert results is not None
        b = key.rsplit(".b", 1)[1]
        frac = results.get(f"gpu.flops_fraction_of_matmul.b{b}")
        label = f"GPU bf16 batch {b}: samples/s (fraction of bf16 matmul)"
        row(label, f"{fmt(results[key])} ({fmt(frac)})", "", results, key)
    notes = []
    for (_, where), results in used.items():
        gpu_note = results.get("machine.gpu_note") if where != machine_label(results, "") else None
        notes.append(f"{where}: {gpu_note or _machine_line(results)}")
    return "\n".join(lines) + "\n\n" + "\n".join(notes)


def _machine_line(results: dict[str, Any]) -> str:
    return (
        f"{results.get('machine.cpu', '?')}, {results.get('machine.cores', '?')} cores, "
        f"torch {results.get('machine.torch', '?')}"
        + (f", GPU {results['machine.gpu']}" if results.get("machine.gpu") else "")
        + f"; load average at start {results.get('machine.load_average', '?')}, "
        f"at end {results.get('machine.load_average_end', '?')}"
        + (f"; run on {results['machine.date']}" if results.get("machine.date") else "")
        + "."
        + (f" {results['machine.note']}." if results.get("machine.note") else "")
    )


def main() -> None:
    paths = [Path(a) for a in sys.argv[1:]] or [RESULTS]
    print(markdown(*(json.loads(p.read_text()) for p in paths)))


if __name__ == "__main__":
    main()
