"""What a user sees on the console of a training run, and what the run's log file keeps."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.helpers import run_train, write_tones

NOISE = ("Tip:", "litlogger", "FLOPs", "fontManager", "deprecated", "srun", "INFO:")


def _console_lines(text: str) -> list[str]:
    """Lines as a terminal shows them: progress-bar redraws (carriage returns) count once."""
    lines = []
    for raw in text.splitlines():
        last = raw.split("\r")[-1].strip()
        if last and not re.match(r"^(Epoch \d+|Training):", last):
            lines.append(last)
    return lines


def test_training_console_is_one_line_per_event_and_the_log_keeps_detail(
    tmp_path: Path,
) -> None:
    folder = write_tones(tmp_path / "audio", 6)
    (folder / "broken.wav").write_bytes(b"not a wav file at all")
    run_dir = tmp_path / "run"
    proc = run_train(
        [
            "debug=fast",
            "dataset=folder",
            f"dataset.path={folder}",
            f"hydra.run.dir={run_dir}",
            "trainer.enable_progress_bar=true",
        ],
        tmp_path,
    )
    console = proc.stdout + proc.stderr
    lines = _console_lines(console)
    repeated = [line for line, n in Counter(lines).items() if n > 1]
    assert not repeated, f"lines printed more than once: {repeated}"
    for noise in NOISE:
        assert noise not in console, f"console shows {noise!r}:\n{console}"

    start = [line for line in lines if "training:" in line]
    assert len(start) == 1, console
    for fact in ("6 files", "train/val", "tier small", "levels x", "bit/s", "params", "cpu"):
        assert fact in start[0], f"start line lacks {fact!r}: {start[0]}"
    assert re.search(r"precision (32-true|bf16-mixed|16-mixed)", start[0]), start[0]

    skipped = [line for line in lines if "broken.wav" in line]
    assert len(skipped) == 1, f"the skipped file should be named once on the console:\n{console}"
    log_text = (run_dir / "train.log").read_text()
    assert "broken.wav" in log_text  # the skip notice reaches the log file too
    assert "GPU available" in log_text  # third-party detail kept in the file, not the console
    assert "done in" in proc.stdout  # the closing summary stays
