"""``python -m MODULE ARGS`` for the CLI tests, minus the start-up: a warm interpreter forks it.

Every CLI test used to start a cold interpreter, and importing torch + Lightning + Hydra costs
about 9 s of CPU per process on the 2-core CI machine (Lightning alone pulls torch._dynamo,
torchmetrics, scipy.signal and matplotlib) - most of the subprocess tests' time. Each xdist
worker now keeps one server process that has imported those libraries (nothing of rvqvae's
entry modules, no torch op run, so no thread pool exists to fork). A run forks it; the child
takes the run's working folder, environment, argv and stdio, then runs the module as
``__main__`` (``runpy``, as ``python -m`` does), runs the ``atexit`` handlers and exits with the
module's exit code. The CLI under test is still its own process with its own Hydra, Lightning
and W&B state; processes it starts (DDP ranks, joblib workers, SLURM jobs) start cold.

Runs whose environment changes what happens at interpreter start (``PYTHON*``, e.g. a
sitecustomize patch, and thread settings) go through a cold interpreter
(:meth:`WarmPython.needs_cold`), as every run does with ``RVQVAE_TESTS_COLD=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# what a forked run would otherwise have read at start-up
_START_UP_PREFIXES = ("PYTHON", "OMP_", "MKL_", "TORCH_", "CUDA_", "LD_")
PRELOAD = (
    "numpy",
    "torch",
    "lightning.pytorch",
    "hydra",
    "omegaconf",
    "soundfile",
    "vector_quantize_pytorch",
)


class WarmPython:
    """One warm server process (started on the first :meth:`run`) and the runs it forks."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD) -> None:
        self._preload = preload  # modules the server imports before it forks
        self._server: subprocess.Popen[str] | None = None
        self._server_env: dict[str, str] = {}  # the environment the server started with
        self._lock = threading.Lock()

    def needs_cold(self, env: dict[str, str]) -> bool:
        """Whether a run with ``env`` must start cold: it differs from the server's environment
        in a variable read at interpreter start, ``RVQVAE_TESTS_COLD`` is set, or this is not
        Linux (forking a process that has imported torch is only known safe there)."""
        if os.environ.get("RVQVAE_TESTS_COLD") or sys.platform != "linux":
            return True
        running = self._server is not None and self._server.poll() is None
        base = self._server_env if running else dict(os.environ)  # what a new one would get
        keys = set(env) ^ set(base) | {k for k in env if env[k] != base.get(k)}
        return any(k.startswith(_START_UP_PREFIXES) for k in keys)

    def _start(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            self._server_env = dict(os.environ)
            self._server = subprocess.Popen(
                [sys.executable, __file__, *self._preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        return self._server

    def run(
        self, module: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """``python -m module args`` in ``cwd`` with exactly ``env``, as ``subprocess.run(...,
        capture_output=True, text=True, timeout=timeout)`` would return it."""
        with self._lock, tempfile.TemporaryDirectory(prefix="warm-run-") as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            server = self._start()
            request = {"module": module, "args": args, "cwd": str(cwd), "env": env}
            request |= {"stdout": str(out), "stderr": str(err)}
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps(request) + "\n")
            started = server.stdout.readline()
            if not started:
                raise RuntimeError(
                    f"the warm interpreter did not start (preloading {self._preload})"
                )
            pid = int(json.loads(started)["pid"])
            timed_out = threading.Event()
            timer = threading.Timer(timeout, _kill, (pid, timed_out))
            timer.start()
            try:
                line = server.stdout.readline()
            finally:
                timer.cancel()
            if not line:
                raise RuntimeError("the warm interpreter died; rerun the test")
            status = json.loads(line)
            stdout, stderr = (p.read_text(errors="replace") for p in (out, err))
            command = [sys.executable, "-m", module, *args]
            if timed_out.is_set():
                raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
            return subprocess.CompletedProcess(command, status["returncode"], stdout, stderr)

    def close(self) -> None:
        """Stop the server (its runs have all ended)."""
        if self._server is not None and self._server.poll() is None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait(timeout=30)


def _kill(pid: int, timed_out: threading.Event) -> None:
    timed_out.set()
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def _child(request: dict) -> None:
    """In the forked process: become ``python -m module args`` and never return."""
    import atexit
    import runpy
    import traceback

    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            target = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = [request["module"], *request["args"]]
        sys.path[0] = os.getcwd()  # as python -m: the working folder first
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
        except BaseException:  # what the interpreter prints for an uncaught exception
            traceback.print_exc()
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _serve() -> None:
    """The server: import the modules named in argv, then fork one run per request line on
    stdin."""
    import importlib

    for name in sys.argv[1:]:
        importlib.import_module(name)
    reply = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        reply.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        reply.write(json.dumps({"pid": pid}) + "\n")
        reply.flush()
        _, status = os.waitpid(pid, 0)
        returncode = os.waitstatus_to_exitcode(status)  # -N when signal N ended it, as Popen
        reply.write(json.dumps({"returncode": returncode}) + "\n")
        reply.flush()


if __name__ == "__main__":
    _serve()
