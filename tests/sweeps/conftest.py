"""Helpers for sweep tests: tiny audio folders, a subprocess runner, W&B offline run records."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, read_summary, run_train, write_tones

__all__ = ["REPO", "read_summary", "run_train", "write_tones"]

CONF = REPO / "conf"


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tones(tmp_path_factory.mktemp("audio"), 6)


def fast_args(folder: Path, *extra: str) -> list[str]:
    """Overrides of a tiny job: debug=fast on a folder of tones."""
    return ["debug=fast", "dataset=folder", f"dataset.path={folder}", *extra]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The numbered job folders of a multirun, in order."""
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def wandb_records(path: Path) -> Iterator[Any]:
    """Records of an offline ``run-<id>.wandb`` file (LevelDB log format of protobuf Records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST fragment
            record = pb.Record()
            record.ParseFromString(buf)
            buf = b""
            yield record
