"""benchmarks/realaudio_eval.py on the session's tiny run: per-kind figures, and what each kind
sounds like (ViSQOL of the reconstruction against the analysis mel's synthesis)."""

from __future__ import annotations

from benchmarks.realaudio_eval import kind_figures, markdown


def test_per_kind_figures_with_what_each_kind_sounds_like(tiny_run) -> None:
    figures = kind_figures(tiny_run.run, visqol_files=1)
    assert figures["kinds"], "the tiny run has validation files"
    for kind in figures["kinds"].values():
        assert len(kind["norm_l1_levels"]) == figures["num_quantizers"]
        sound = kind["sound"]
        assert sound["files"] == 1
        # ViSQOL's MOS scale (1-5); the tiny codec loses to the analysis mel on both figures
        assert 1.0 <= sound["visqol"] < sound["visqol_ceiling"] <= 5.0
        assert sound["lsd"] > sound["lsd_ceiling"] > 0
    table = markdown(figures)
    assert "sounds like" in table and "ViSQOL" in table
