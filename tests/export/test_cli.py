"""python -m rvqvae.export: a part that cannot be exported is one line naming it and why."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_module


def test_parts_that_cannot_be_exported_get_one_line_each(tiny_run, tmp_path: Path) -> None:
    """tiny_run has no vocoder and no prior is given: nothing to export, exit 1, no traceback."""
    args = [f"ckpt={tiny_run.ckpt}", "parts=[vocoder,prior]", f"output={tmp_path / 'out'}"]
    proc = run_module("rvqvae.export", args, tmp_path, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "cannot export" in line]
    assert len(lines) == 2, text
    assert "cannot export vocoder: the run of" in lines[0] and "has no vocoder" in lines[0]
    assert "cannot export prior: no prior checkpoint given (prior_ckpt=PATH" in lines[1]
    assert "no part exported" in text
