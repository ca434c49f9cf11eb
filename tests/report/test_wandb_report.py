"""The W&B Report builder, offline: panels built (VQ-VAE and prior runs), save stubbed, no key /
no network paths."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import wandb_workspaces.reports.v2 as wr
import yaml

from rvqvae.report import collect_runs, swept_keys, wandb_report
from rvqvae.report.cli import main, parallel_params
from rvqvae.report.wandb_panels import DEFAULT_PARAMS
from rvqvae.report.wandb_report import build_wandb_report, publish_wandb_report

FAKE_URL = "https://wandb.ai/me/rvqvae/reports/RVQ-VAE-comparison:-dims--abc123"


def _no_network(*args, **kwargs):
    raise AssertionError("tried to open a network connection")


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", _no_network)


@pytest.fixture
def stub_wandb(monkeypatch: pytest.MonkeyPatch) -> list[wr.Report]:
    """A key, a 'reachable' server, and Report.save / Report.url that never leave the machine."""
    saved: list[wr.Report] = []

    def save(self, draft: bool = False, clone: bool = False):
        self.id = "abc123"
        saved.append(self)
        return self

    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.delenv("WANDB_ENTITY", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.setattr(wandb_report, "server_reachable", lambda *a, **k: True)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setattr(wr.Report, "save", save)
    monkeypatch.setattr(wr.Report, "url", property(lambda self: FAKE_URL))
    return saved


def _panels(report: wr.Report) -> tuple[wr.PanelGrid, dict[type, list]]:
    (grid,) = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    by_type: dict[type, list] = {}
    for panel in grid.panels:
        by_type.setdefault(type(panel), []).append(panel)
    return grid, by_type


def test_builder_panels_and_group_filter() -> None:
    report = build_wandb_report(
        "dims", "me", "rvqvae", params=["model.codebook_dim", "model.num_quantizers"]
    )
    assert (report.entity, report.project) == ("me", "rvqvae")
    assert report.title == "RVQ-VAE comparison: dims"
    grid, panels = _panels(report)
    (runset,) = grid.runsets
    assert (runset.entity, runset.project) == ("me", "rvqvae")
    assert runset.filters == "Metric(\"Group\") == 'dims'"
    assert sorted(tuple(p.y) for p in panels[wr.LinePlot]) == [
        ("train/recon_l1_epoch",),
        ("val/recon_l1",),
    ]
    assert all(p.x == "epoch" for p in panels[wr.LinePlot])
    scatters = [(s.x, s.y) for s in panels[wr.ScatterPlot]]
    assert scatters == [("bitrate_bps", "val/norm_l1"), ("bitrate_bps", "val/visqol")]
    (parallel,) = panels[wr.ParallelCoordinatesPlot]
    assert [c.metric for c in parallel.columns] == [
        wr.Config("model.codebook_dim"),
        wr.Config("model.num_quantizers"),
        wr.SummaryMetric("val/norm_l1"),
    ]
    assert len(panels[wr.RunComparer]) == 1
    (media,) = panels[wr.MediaBrowser]
    assert media.media_keys == ["previews/audio", "previews/code_grid"]


def test_publish_saves_and_prints_url(stub_wandb: list[wr.Report]) -> None:
    lines: list[str] = []
    url = publish_wandb_report("dims", entity="me", project="rvqvae", echo=lines.append)
    assert url == FAKE_URL
    assert lines == [f"W&B report: {FAKE_URL}"]
    (report,) = stub_wandb
    assert report.id == "abc123"
    _, panels = _panels(report)
    assert {c.metric.name for c in panels[wr.ParallelCoordinatesPlot][0].columns} >= {
        "model.codebook_dim",
        "model.num_quantizers",
        "model.codebook_size",
    }


def test_cli_wandb_uses_swept_params(sweep: Path, stub_wandb: list[wr.Report], capsys) -> None:
    args = [str(sweep), "--wandb", "--group", "dims", "--entity", "me", "--project", "p"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"W&B report: {FAKE_URL}"
    (report,) = stub_wandb
    assert report.project == "p"
    _, panels = _panels(report)
    assert [c.metric for c in panels[wr.ParallelCoordinatesPlot][0].columns] == [
        wr.Config("model.codebook_dim"),
        wr.SummaryMetric("val/norm_l1"),
    ]
    assert (sweep / "report.md").is_file()


def test_cli_group_defaults_to_the_sweep(sweep: Path, stub_wandb: list[wr.Report]) -> None:
    assert main([str(sweep), "--wandb", "--entity", "me"]) == 0
    (report,) = stub_wandb
    grid, _ = _panels(report)
    assert grid.runsets[0].filters == "Metric(\"Group\") == '2024-05-01_12-00-00'"
    assert report.project == "rvqvae"


def test_cli_project_from_the_runs_config(
    tmp_path: Path, make_run_dir, stub_wandb: list[wr.Report]
) -> None:
    run_dir = make_run_dir(tmp_path / "0", ["logger.wandb.project=proj2"], previews=False)
    assert main([str(run_dir), "--wandb", "--group", "g", "--entity", "me"]) == 0
    assert stub_wandb[0].project == "proj2"
    _, panels = _panels(stub_wandb[0])
    columns = panels[wr.ParallelCoordinatesPlot][0].columns
    assert columns[-2].metric == wr.Config("optimizer.lr")  # defaults: nothing swept


def test_no_api_key_one_line_no_network(no_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("a connection was attempted without an API key")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    lines: list[str] = []
    assert publish_wandb_report("dims", echo=lines.append) is None
    assert lines == ["W&B report skipped: no API key (set WANDB_API_KEY or run `wandb login`)."]


def test_netrc_key_is_found_offline(no_key: None, tmp_path: Path, monkeypatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "n" * 40 + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_report.find_api_key() == "n" * 40


def test_unreachable_server_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    lines: list[str] = []
    assert publish_wandb_report("dims", entity="me", echo=lines.append) is None
    assert lines == ["W&B report skipped: cannot reach http://127.0.0.1:9 (no network?)."]


def test_hanging_save_is_bounded(stub_wandb: list[wr.Report], monkeypatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(wr.Report, "save", lambda self, **kw: release.wait())
    lines: list[str] = []
    try:
        assert publish_wandb_report("dims", entity="me", timeout=0.2, echo=lines.append) is None
        # it returned while the save still hangs: the wait is bounded, not the save's own end
        assert not release.is_set()
    finally:
        release.set()
    assert lines == ["W&B report failed: TimeoutError: no answer from W&B within 0.2 s"]


def test_save_error_is_one_line(stub_wandb: list[wr.Report], monkeypatch) -> None:
    def boom(self, **kw):
        raise RuntimeError("permission denied\nfor project rvqvae")

    monkeypatch.setattr(wr.Report, "save", boom)
    lines: list[str] = []
    assert publish_wandb_report("dims", entity="me", echo=lines.append) is None
    assert lines == ["W&B report failed: RuntimeError: permission denied for project rvqvae"]


def _grids(report: wr.Report) -> list[wr.PanelGrid]:
    return [b for b in report.blocks if isinstance(b, wr.PanelGrid)]


def _line_keys(grid: wr.PanelGrid) -> list[list[str]]:
    return [list(p.y) for p in grid.panels if isinstance(p, wr.LinePlot)]


PRIOR_LINES = [
    ["val/bits_per_s"],
    ["val/bits_per_s/level_0", "val/bits_per_s/level_1", "val/bits_per_s/level_2"],
    ["val/bits_per_s", "unigram_bits_per_s", "raw_bits_per_s"],
]


def test_cli_wandb_prior_sweep_gets_prior_panels_only(
    prior_sweep: Path, stub_wandb: list[wr.Report]
) -> None:
    assert main([str(prior_sweep), "--wandb", "--entity", "me"]) == 0
    (report,) = stub_wandb
    (grid,) = _grids(report)  # no VQ-VAE runs: no VQ-VAE grid
    assert grid.runsets[0].filters == "Metric(\"Group\") == '2024-05-02_10-00-00'"
    assert [b.text for b in report.blocks if isinstance(b, wr.H2)] == ["Priors"]
    assert _line_keys(grid) == PRIOR_LINES  # levels from the priors' summaries (3 and 2)
    bars, windowed, at_infinity, two_sample = [p for p in grid.panels if isinstance(p, wr.BarPlot)]
    assert bars.metrics == ["fd_prior", "fd_unigram", "fd_reconstruction"]
    assert windowed.metrics[0] == "wfd_prior" and two_sample.metrics[0] == "c2st_prior"
    assert at_infinity.metrics[0] == "wfd_inf_prior"
    (media,) = [p for p in grid.panels if isinstance(p, wr.MediaBrowser)]
    assert media.media_keys == ["previews/samples", "previews/sample_mels", "previews/sample_grids"]
    assert report.description.startswith("Prior runs of group")


def test_cli_wandb_mixed_folders_get_both_grids(
    sweep: Path, prior_sweep: Path, stub_wandb: list[wr.Report]
) -> None:
    assert main([str(sweep), str(prior_sweep), "--wandb", "--group", "g", "--entity", "me"]) == 0
    (report,) = stub_wandb
    vq_grid, prior_grid = _grids(report)
    assert _line_keys(vq_grid) == [["val/recon_l1"], ["train/recon_l1_epoch"]]
    assert _line_keys(prior_grid) == PRIOR_LINES
    (parallel,) = [p for p in vq_grid.panels if isinstance(p, wr.ParallelCoordinatesPlot)]
    # the VQ-VAE runs' swept keys; the priors' `vqvae=` and `seed` are not VQ-VAE parameters
    assert [c.metric for c in parallel.columns] == [
        wr.Config("model.codebook_dim"),
        wr.SummaryMetric("val/norm_l1"),
    ]


def test_prior_levels_flag_without_paths(stub_wandb: list[wr.Report]) -> None:
    args = ["--wandb", "--group", "g", "--entity", "me", "--prior-levels", "4"]
    assert main(args) == 0
    (report,) = stub_wandb
    vq_grid, prior_grid = _grids(report)
    assert _line_keys(prior_grid)[1][-1] == "val/bits_per_s/level_3"
    assert main(["--wandb", "--group", "g", "--prior-levels", "-1"]) == 2


def test_parallel_axes_skip_config_groups(tmp_path: Path, make_run_dir) -> None:
    """``dataset=folder`` vs ``dataset=synth`` is a Hydra group choice: W&B's config holds the
    composed dataset dict, so it cannot be an axis; plain values can."""
    runs_dir = tmp_path / "sweep"
    for i, (dataset, lr) in enumerate([("folder", "1e-3"), ("synth", "5e-4")]):
        overrides = [f"dataset={dataset}", f"optimizer.lr={lr}", f"+extra.depth={i}"]
        run_dir = make_run_dir(runs_dir / str(i), overrides, previews=False)
        config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
        config["dataset"] = {"path": f"/data/{dataset}", "sample_rate": 48000}
        (run_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    runs = collect_runs([runs_dir])
    assert swept_keys(runs) == ["dataset", "optimizer.lr", "extra.depth"]
    assert parallel_params(runs) == ["optimizer.lr", "extra.depth"]
    assert parallel_params(runs[:1]) == list(DEFAULT_PARAMS)  # nothing swept
