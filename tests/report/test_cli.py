"""``python -m rvqvae.report``: output folders, one-line errors, exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rvqvae.report.cli import main

REPO = Path(__file__).resolve().parents[2]


def _no_network(*args, **kwargs):
    raise AssertionError("the report tried to open a network connection")


def test_missing_path_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    missing = tmp_path / "nope"
    assert err == f"python -m rvqvae.report: error: {missing}: no such file or directory\n"


def test_folder_without_runs_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run folders found" in err


def test_module_entry_point_exits_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rvqvae.report", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"python -m rvqvae.report: error: {tmp_path / 'missing'}: no such file or directory"
    ]


def test_single_sweep_writes_into_it(sweep: Path, capsys) -> None:
    assert main([str(sweep), "--title", "My sweep"]) == 0
    assert (sweep / "report.md").read_text().startswith("# My sweep\n")
    assert (sweep / "report.html").is_file()
    assert capsys.readouterr().out.startswith(f"Wrote {sweep / 'report.md'}")


def test_several_paths_default_and_explicit_out(sweep: Path, seed_sweep: Path, tmp_path) -> None:
    assert main([str(sweep), str(seed_sweep)]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert text.startswith("# RVQ-VAE comparison of 2 sweeps\n")
    assert "| 12-00-00/0: model.codebook_dim=64 data=synth |" in text
    assert main([str(sweep), str(seed_sweep / "0"), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "report_curves.png").is_file()


def test_wandb_needs_a_group_unless_one_multirun(sweep: Path, seed_sweep: Path, capsys) -> None:
    assert main([str(sweep), str(seed_sweep), "--wandb"]) == 2
    assert main(["--wandb"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["python -m rvqvae.report: error: --wandb needs --group NAME"] * 2


def test_wandb_without_key_still_writes_local_report(
    sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", _no_network)
    assert main([str(sweep), "--wandb", "--group", "dims"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (sweep / "report.md").is_file()
    assert [line for line in out if "W&B" in line] == [
        "W&B report skipped: no API key (set WANDB_API_KEY or run `wandb login`)."
    ]
    assert len(out) == 2
    # W&B only, nothing written locally: the failure is the exit code.
    assert main(["--wandb", "--group", "dims"]) == 1
