"""The README's benchmark table: rows from several result files, each with its machine."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from benchmarks.table import markdown  # noqa: E402

CPU = {
    "machine.cpu": "AMD EPYC",
    "machine.cores": 2,
    "machine.torch": "2.13.0+cpu",
    "e2e.efficiency": 0.93,
    "cpu_options.bf16_vs_fp32": 1.2,
    "precision.bf16_vs_fp32_val_norm_l1": 1.03,
}
GPU = {
    "machine.cpu": "Intel Xeon",
    "machine.cores": 16,
    "machine.torch": "2.13.0+cu130",
    "gpu.name": "NVIDIA H200",
    "gpu.default_run_wall_s": 24.0,
    "gpu.bare_bf16_samples_per_s.b32": 1855.0,
    "gpu.flops_fraction_of_matmul.b32": 0.0013,
    "cpu_options.bf16_vs_fp32": 1.5,  # the same key measured later elsewhere: the last file wins
}


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("figure", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def test_rows_name_their_machine_and_targets() -> None:
    table = markdown(CPU, GPU)
    rows = _rows(table)
    efficiency = rows["default run: samples / (bare rate x wall), start-up included"]
    assert efficiency == ["0.93", ">= 0.9 met", "2-core AMD EPYC"]
    quality = rows["val/norm_l1 bf16 / fp32 (mean of seeds)"]
    assert quality[1] == "<= 1.01 **missed**" and quality[2] == "2-core AMD EPYC"
    assert rows["default run on one GPU, s"] == ["24", "<= 30 met", "NVIDIA H200"]
    assert rows["bare step bf16 autocast / fp32 (batch 16)"][0] == "1.5"
    batch = rows["GPU bf16 batch 32: samples/s (fraction of bf16 matmul)"]
    assert batch[0] == "1,855 (0.0013)" and batch[2] == "NVIDIA H200"
    # one footnote per machine, each with its own torch
    notes = table.split("\n\n", 1)[1].splitlines()
    assert any(n.startswith("2-core AMD EPYC:") and "2.13.0+cpu" in n for n in notes)
    assert any(n.startswith("NVIDIA H200:") and "cu130" in n for n in notes)
