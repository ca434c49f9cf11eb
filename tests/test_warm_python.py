"""The warm interpreter the CLI tests fork (tests/warm_python.py) behaves as ``python -m``: the
same exit codes, output, working folder, argv, environment and ``__main__``, uncaught errors
and timeouts included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.warm_python import WarmPython

PROBE = """\
import atexit, json, os, sys, threading, time
mode = sys.argv[1]
if mode == "sleep":
    time.sleep(60)
atexit.register(lambda: print("atexit ran", flush=True))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread joined"))).start()
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "probe": os.environ.get("PROBE"),
    "name": __name__, "spec": __spec__.name, "path0": sys.path[0],
}))
print("to stderr", file=sys.stderr)
if mode == "raise":
    raise ValueError("bad value")
if mode == "message":
    sys.exit("one line")
sys.exit(int(mode))
"""


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "probe_module.py").write_text(PROBE)
    return tmp_path


def _cold(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "probe_module", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("mode", ["0", "3", "raise", "message"])
def test_warm_and_cold_runs_give_the_same_result(probe_dir: Path, mode: str) -> None:
    warm = WarmPython(preload=())  # what it forks is the question, not what it preloaded
    env = {**os.environ, "PROBE": "value"}
    try:
        got = warm.run("probe_module", [mode], probe_dir, env, timeout=60)
    finally:
        warm.close()
    want = _cold([mode], probe_dir, env)
    assert got.returncode == want.returncode == {"0": 0, "3": 3}.get(mode, 1)
    assert got.stdout == want.stdout
    first = json.loads(got.stdout.splitlines()[0])
    assert first["cwd"] == str(probe_dir) and first["probe"] == "value"
    assert first["name"] == "__main__" and first["spec"] == "probe_module"
    assert first["argv"] == [str(probe_dir / "probe_module.py"), mode]
    assert got.stdout.splitlines()[1:] == ["thread joined", "atexit ran"]
    if mode == "raise":  # the traceback ends the same way
        last = {got.stderr.splitlines()[-1], want.stderr.splitlines()[-1]}
        assert last == {"ValueError: bad value"}
    else:
        assert got.stderr == want.stderr


def test_a_run_past_its_timeout_is_killed_and_raises(probe_dir: Path) -> None:
    warm = WarmPython(preload=())
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            warm.run("probe_module", ["sleep"], probe_dir, dict(os.environ), timeout=1)
        # the server serves the next run
        again = warm.run("probe_module", ["0"], probe_dir, dict(os.environ), timeout=60)
        assert again.returncode == 0
    finally:
        warm.close()


def test_start_up_variables_send_a_run_to_a_cold_interpreter() -> None:
    warm = WarmPython(preload=())
    off_linux = sys.platform != "linux"  # every run cold there
    assert warm.needs_cold({**os.environ, "WANDB_MODE": "offline"}) == off_linux
    assert warm.needs_cold({**os.environ, "PYTHONPATH": "/patch"})
    assert warm.needs_cold({**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
