"""ReportOnMultirunEnd: writes into the sweep folder, never raises; real Hydra multirun."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from rvqvae.report.hydra_callback import ReportOnMultirunEnd

REPO = Path(__file__).resolve().parents[2]


def test_callback_writes_report_into_sweep_dir(sweep: Path) -> None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
    ReportOnMultirunEnd().on_multirun_end(config)
    text = (sweep / "report.md").read_text()
    assert text.startswith("# RVQ-VAE sweep 2024-05-01/12-00-00\n")
    assert "| 2: model.codebook_dim=256 | 256 | 1008 | 0.2000 |" in text
    assert (sweep / "report.html").is_file() and (sweep / "report_curves.png").is_file()


def test_relative_sweep_dir_uses_runtime_cwd(sweep: Path) -> None:
    base = sweep.parents[2]
    config = OmegaConf.create(
        {
            "hydra": {
                "sweep": {"dir": str(sweep.relative_to(base))},
                "runtime": {"cwd": str(base)},
            }
        }
    )
    ReportOnMultirunEnd(title="T").on_multirun_end(config)
    assert (sweep / "report.md").read_text().startswith("# T\n")


def test_callback_never_raises(tmp_path: Path, caplog) -> None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "gone")}}})
    with caplog.at_level(logging.WARNING, logger="rvqvae.report.hydra_callback"):
        ReportOnMultirunEnd().on_multirun_end(config)
        ReportOnMultirunEnd().on_multirun_end(OmegaConf.create({}))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert all("\n" not in m and m.startswith("rvqvae.report: could not") for m in messages)
    assert "no such file or directory" in messages[0]


APP = """
import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="cfg")
def app(cfg):
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "summary.json").write_text(json.dumps({
        "status": "completed", "val/recon_l1": 0.1 * cfg.model.codebook_dim / 64,
        "val/norm_l1": 0.05, "bitrate_bps": 1008.0,
    }))


if __name__ == "__main__":
    app()
"""

CFG = """
model:
  codebook_dim: 128
paths:
  log_dir: outputs
hydra:
  sweep:
    dir: ${paths.log_dir}/multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}
  callbacks:
    report:
      _target_: rvqvae.report.hydra_callback.ReportOnMultirunEnd
"""


def test_real_hydra_multirun_gets_a_report(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "cfg.yaml").write_text(CFG)
    (tmp_path / "app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "app.py", "-m", "model.codebook_dim=64,128"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = list((tmp_path / "outputs" / "multirun").glob("*/*"))
    text = (sweep_dir / "report.md").read_text()
    assert "| 0: model.codebook_dim=64 | 64 | 1008 | 0.1000 |" in text
    assert "| 1: model.codebook_dim=128 | 128 | 1008 | 0.2000 |" in text
