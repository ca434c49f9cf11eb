"""The code editing study: seams against natural change, inpainting methods, speed, examples.

    nice -n 10 .venv/bin/python experiments/code_editing/study.py \
        --prior /tmp/edit_prior/checkpoints/best.ckpt [--real /tmp/real/vqvae/checkpoints/best.ckpt]

Writes results.json, seams.png, inpaint.png and examples/ beside this file (see README.md).
``--inpaint-only --tag real`` runs only the seams and the inpainting comparison for the given
prior (e.g. one trained on the real-audio VQ-VAE) into ``results_real.json``; ``--real-examples``
with such a prior (and ``--masked-prior``) writes only the ``examples/real_*`` files.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from gallery import RIGHT, examples, put_real  # beside this file

from rvqvae.codec.grid import decode_grid
from rvqvae.codec.model import Codec
from rvqvae.editing.ops import Segment, blend, splice, swap_levels
from rvqvae.editing.ranges import ColumnRange, column_seconds
from rvqvae.editing.regenerate import fim_window, range_nll, regenerate
from rvqvae.editing.seams import boundary_jump, natural_jumps, seam_figures
from rvqvae.editing.sources import load_source
from rvqvae.prior.checkpoint import load_prior, resolve_vqvae
from rvqvae.prior.grids import CodeCache, rebuild_split
from rvqvae.prior.infill import infill_nll
from rvqvae.prior.metrics import UnigramBaseline
from rvqvae.prior.sampling import SamplingSettings
from rvqvae.prior.temporal import set_figures
from rvqvae.vocoder.synthesize import build_synthesizer

HERE = Path(__file__).resolve().parent
HOLE = 6  # held-back columns (1.02 s: one 96-frame window)
MARGIN = 3  # columns of context on each side kept in the measured region (0.5 s)
SYNTH: list[str] = []  # where vocoder=auto looks: the prior, then its VQ-VAE run


def decode(codec: Codec, grid: torch.Tensor) -> np.ndarray:
    return decode_grid(codec.model, grid, n_mels=codec.settings.n_mels).numpy()


def files(codec: Codec, cache_dir: str | None) -> tuple[list, list, list, list]:
    """Grids and mels of the VQ-VAE run's training and validation files."""
    train, val, _ = rebuild_split(codec, cache_dir)
    cache = CodeCache(cache_dir, codec)
    return (
        [cache.grid(p) for p in train],
        [cache.grid(p) for p in val],
        [cache.mel(p) for p in train],
        [cache.mel(p) for p in val],
    )


def splice_seams(codec: Codec, grids: list[torch.Tensor]) -> list[float]:
    """Jumps at the seam of every neighbouring pair spliced at their middles (a's first half,
    b's second half) and of each file looped (its second half twice)."""
    jumps = []
    for i, a in enumerate(grids):
        b = grids[(i + 1) % len(grids)]
        ha, hb = a.shape[1] // 2, b.shape[1] // 2
        cut = [Segment("a", ColumnRange(0, ha, 0), 1), Segment("b", ColumnRange(hb, b.shape[1], 0))]
        grid, seams = splice({"a": a, "b": b}, cut)
        jumps.append(boundary_jump(decode(codec, grid), seams[0]))
        loop = [Segment("a", ColumnRange(ha, a.shape[1], 0), 2)]
        grid, seams = splice({"a": a}, loop)
        jumps.append(boundary_jump(decode(codec, grid), seams[0]))
    return jumps


def inpaint_study(
    loaded,
    train_g,
    val_g,
    train_m,
    val_m,
    seeds: list[int],
    k: int,
    fim=None,
    masked=None,
    causal: bool = True,
):
    """Hold back HOLE columns in the middle of every long-enough validation file and fill them
    by each method; figures over the hole plus MARGIN columns on each side. With ``fim`` (a
    prior trained with ``prior.model.fim_rate > 0`` on the same VQ-VAE) also its fill given
    both sides (``fim``) and its left-only fill (``fim_left``); ``masked``: ``{row name: (a prior
    trained with prior.model.order=masked, its decoding settings)}`` (:func:`masked_priors`),
    each row its fill by parallel decoding; every fill is scored by ``loaded``'s prior, whose
    own fills (rescore, rescore_weighted, left) are skipped with ``causal=False``."""
    codec, prior = loaded.codec, loaded.prior
    unigram = UnigramBaseline(train_g, codec.model.codebook_size)
    settings = SamplingSettings(1.0, 0, 0.95)
    column_s = column_seconds(codec.settings)
    drawn = []  # (row, prior, candidates, select, method, sampling settings, prior attributes)
    if causal:
        drawn += [
            ("rescore", prior, k, "best", "rescore", settings, {}),
            ("rescore_weighted", prior, k, "weighted", "rescore", settings, {}),
            ("left", prior, 1, "best", "left", settings, {}),
        ]
    methods = ["true", *(name for name, *_ in drawn), "unigram", "copy"]
    if fim is not None:
        methods += ["fim", "fim_left"]
        drawn += [("fim", fim, 1, "best", "fim", settings, {})]
        drawn += [("fim_left", fim, 1, "best", "left", settings, {})]
    for name, (model, decoding, row_settings, count) in (masked or {}).items():
        methods.append(name)
        drawn.append((name, model, count, "best", "masked", row_settings, decoding))
    regions: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    real, seed_of = [], []
    stats = {m: {"l1": [], "nll": [], "right_nll": [], "seam": []} for m in methods}
    timing = {name: 0.0 for name, *_ in drawn} | {"columns": 0}
    for g, mel in zip(val_g, val_m):
        cols = g.shape[1]
        if cols < HOLE + 2 * MARGIN + RIGHT:
            continue
        start = max(MARGIN + 2, (cols - HOLE) // 2)
        start = min(start, cols - HOLE - max(MARGIN, RIGHT))
        hole = ColumnRange(start, start + HOLE, column_s)
        right = ColumnRange(hole.end, min(cols, hole.end + RIGHT), column_s)
        f0, f1 = 16 * (start - MARGIN), min(mel.shape[1], 16 * (hole.end + MARGIN))
        for seed in seeds:
            real.append(mel[:, f0:f1])
            seed_of.append(seed)
            fills = {"true": g.clone()}
            for name, model, cand, select, method, row_settings, decoding in drawn:
                for setting, value in decoding.items():  # a masked prior's decoding settings
                    setattr(model, setting, value)
                t = time.perf_counter()
                done = regenerate(
                    model, g, hole, row_settings, seed, 0, cand, RIGHT, select, method
                )
                timing[name] += time.perf_counter() - t
                fills[name] = done.grid
            timing["columns"] += HOLE
            gen = torch.Generator().manual_seed(seed)
            uni = g.clone()
            uni[:, hole.start : hole.end] = unigram.sample(1, HOLE, gen)[0]
            fills["unigram"] = uni
            copy = g.clone()
            src = torch.arange(hole.start - HOLE, hole.start).clamp(min=0)
            copy[:, hole.start : hole.end] = g[:, src]
            fills["copy"] = copy
            if fim is not None:  # the true hole's NLL given both sides, and given the left
                w0, w1 = fim_window(fim.context_columns, hole, cols)
                cols_true = fim.layout.to_columns(g.long())[w0:w1]
                nll_both = infill_nll(fim, cols_true, hole.start - w0, hole.end - w0)
                bits = HOLE * column_s * math.log(2)
                stats["true"].setdefault("fim_both_bits_per_s", []).append(nll_both / bits)
                left_nll = range_nll(fim, g, hole) / bits
                stats["true"].setdefault("fim_left_bits_per_s", []).append(left_nll)
            for name, grid in fills.items():
                out = decode_grid(codec.model, grid, mel.shape[1], codec.settings.n_mels).numpy()
                regions[name].append(out[:, f0:f1])
                s = stats[name]
                s["l1"].append(float(np.abs(out - mel)[:, 16 * hole.start : 16 * hole.end].mean()))
                s["nll"].append(range_nll(prior, grid, hole) / math.log(2) / (HOLE * column_s))
                s["right_nll"].append(
                    range_nll(prior, grid, right) / math.log(2) / (right.columns * column_s)
                )
                s["seam"] += [boundary_jump(out, hole.start), boundary_jump(out, hole.end)]
    frame_s = codec.settings.hop_length / codec.settings.sample_rate
    figures = set_figures(train_m, real, regions, frame_s, seed=0)
    from rvqvae.prior.windowed import WindowFeatures, frechet_at_infinity

    features = WindowFeatures(train_m)
    real_f = features(real)
    per_seed = []  # the same figures for each sampling seed's fills alone (their spread)
    for seed in seeds:
        keep = [i for i, s in enumerate(seed_of) if s == seed]
        subsets = {m: [regions[m][i] for i in keep] for m in methods}
        per_seed.append(set_figures(train_m, [real[i] for i in keep], subsets, frame_s, seed))
        seed_real = features([real[i] for i in keep])  # one fill per hole, as the copy has
        for m in methods:  # subsets drawn with seed 0 for every sampling seed, as recorded
            inf = frechet_at_infinity(seed_real, features(subsets[m]))
            per_seed[-1][f"wfd_at_infinity_{m}"] = inf
    spread_real = float(np.trace(np.cov(real_f.T)))
    out = {}
    for m in methods:
        fake_f = features(regions[m])
        out[m] = {
            "wfd": figures[f"wfd_{m}"],
            "wfd_at_infinity": figures[f"wfd_inf_{m}"],  # set_figures': same features, seed 0
            "wfd_at_infinity_per_seed": [f[f"wfd_at_infinity_{m}"] for f in per_seed],
            "wfd_per_seed": [f[f"wfd_{m}"] for f in per_seed],
            "c2st": figures[f"c2st_{m}"],
            "c2st_per_seed": [f[f"c2st_{m}"] for f in per_seed],
            "fd": figures[f"fd_{m}"],
            "density": figures[f"density_{m}"],
            "coverage": figures[f"coverage_{m}"],
            "mel_l1_in_hole": float(np.mean(stats[m]["l1"])),
            "feature_spread_vs_real": float(np.trace(np.cov(fake_f.T))) / spread_real,
            "prior_bits_per_s_of_hole": float(np.mean(stats[m]["nll"])),
            "prior_bits_per_s_of_right": float(np.mean(stats[m]["right_nll"])),
            "seam_jump_median": float(np.median(stats[m]["seam"])),
        }
        for key in ("fim_both_bits_per_s", "fim_left_bits_per_s"):
            if key in stats[m]:
                out[m][f"true_hole_{key}"] = float(np.mean(stats[m][key]))
    n = timing.pop("columns")
    out["speed_s_per_hole_column"] = {k: v / n for k, v in timing.items()}
    out["holes"] = len(real)
    return out, {m: stats[m]["seam"] for m in methods}


def speed(codec: Codec, val_g: list[torch.Tensor], folder: Path) -> dict[str, float]:
    """Seconds of each step of a 10 s edit without the prior: encoding the audio, blend and
    swap of the grids (second call; the first call's overhead separately), decoding the mel,
    the audio (Griffin-Lim, the vocoder), the PNG and the codes file."""
    import soundfile as sf

    from rvqvae.codec.format import save_codes
    from rvqvae.codec.grid import grid_codes_file
    from rvqvae.editing.output import decode_mel
    from rvqvae.editing.view import save_grid_view

    column_s = column_seconds(codec.settings)
    cols = math.ceil(10.0 / column_s)
    n = cols * 16 * codec.settings.hop_length
    a = torch.cat(val_g, dim=1)[:, :cols]
    b = torch.cat(val_g[::-1], dim=1)[:, :cols]
    folder.mkdir(parents=True, exist_ok=True)
    gl = build_synthesizer("griffinlim", codec.settings)
    sf.write(folder / "ten.wav", gl(decode_mel(codec, a, n), n), codec.settings.sample_rate)
    out: dict[str, float] = {}

    def timed(key, fn):
        t = time.perf_counter()
        value = fn()
        out[key] = time.perf_counter() - t
        return value

    timed("encode_10s_audio", lambda: load_source(codec, folder / "ten.wav"))
    timed("blend_10s_first_call", lambda: blend(codec.model, a, b, 0.5))
    grid = timed("blend_10s", lambda: blend(codec.model, a, b, 0.5))
    timed("swap_10s", lambda: swap_levels(a, b, 1))
    mel = timed("decode_mel_10s", lambda: decode_mel(codec, grid, n))
    timed("griffinlim_10s", lambda: gl(mel, n))
    timed("vocoder_10s", lambda: build_synthesizer("auto", codec.settings, SYNTH)(mel, n))
    hop_s = codec.settings.hop_length / codec.settings.sample_rate
    size = codec.model.codebook_size
    timed("png_10s", lambda: save_grid_view(grid, mel, folder / "x.png", column_s, hop_s, size))
    codes = grid_codes_file(codec, grid.numpy(), n, "x", {})
    timed("codes_file_10s", lambda: save_codes(codes, folder / "x.codes.npz"))
    return out


def plot(results: dict, jumps, nat_recon, nat_orig, inpaint_seams: dict) -> None:
    """seams.png (seam jumps vs natural boundaries) and inpaint.png (figures per method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = np.linspace(0, max(np.percentile(nat_orig, 99.5), np.max(jumps)) * 1.05, 40)
    ax.hist(nat_orig, bins, density=True, alpha=0.5, label="natural: validation originals")
    ax.hist(nat_recon, bins, density=True, alpha=0.5, label="natural: reconstructions")
    ax.hist(jumps, bins, density=True, histtype="step", lw=2, label="splice seams")
    for name in ("rescore", "unigram", "copy"):
        ax.axvline(np.median(inpaint_seams[name]), ls="--", lw=1, label=f"inpaint {name} (median)")
    ax.set_xlabel("largest frame-to-frame change within half a column (log-mel)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "seams.png", dpi=80)
    plt.close(fig)
    methods = [m for m in results["inpaint"] if isinstance(results["inpaint"][m], dict)]
    methods = [m for m in methods if "wfd" in results["inpaint"][m]]
    keys = [
        ("wfd", "windowed FD"),
        ("c2st", "two-sample acc."),
        ("prior_bits_per_s_of_hole", "prior bit/s of the hole"),
        ("prior_bits_per_s_of_right", "prior bit/s of the right"),
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(12, 3))
    for ax, (key, title) in zip(axes, keys):
        ax.bar(methods, [results["inpaint"][m][key] for m in methods], color="C0")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "inpaint.png", dpi=80)
    plt.close(fig)


def masked_priors(specs: list[str]) -> dict[str, tuple]:
    """``--masked-prior`` specs loaded, in order: ``{row name: (prior, its decoding attributes,
    sampling settings, candidates)}``
    from ``NAME[@N][+noiseX][+coarse][+tX][+pX]=PATH`` or ``PATH`` (row ``masked``): ``@N``
    decodes in N passes (default 12), ``+noiseX`` with confidence noise X, ``+coarse`` level by
    level, ``+tX`` / ``+pX`` at sampling temperature / top-p X (default the study's 1.0 / 0.95),
    ``+kN`` the best of N fills by the masked prior's likelihood of RIGHT columns on each side;
    the row is NAME with ``@`` and ``+`` written as ``_s`` and ``_``."""
    masked = {}
    for spec in specs:
        name, path = spec.split("=", 1) if "=" in spec else ("masked", spec)
        head, *variants = name.split("+")
        steps = head.partition("@")[2]
        decoding = {"decode_steps": int(steps or 12), "decode_noise": 0.0}
        decoding["decode_coarse_first"] = "coarse" in variants
        given = {"noise": 0.0, "t": 1.0, "p": 0.95, "k": 1}  # study defaults: no noise, one fill
        for v in variants:
            if v == "coarse":
                continue
            prefix = v.rstrip("0123456789.")
            if prefix not in given:
                raise SystemExit(
                    f"--masked-prior {spec}: unknown variant +{v} (noiseX, coarse, tX, pX, kN)"
                )
            given[prefix] = float(v[len(prefix) :])
        decoding["decode_noise"] = given["noise"]
        row = (decoding, SamplingSettings(given["t"], 0, given["p"]), int(given["k"]))
        masked[name.replace("@", "_s").replace("+", "_")] = (load_prior(path).prior, *row)
    return masked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prior", required=True)
    parser.add_argument("--real", default=None, help="a real-audio VQ-VAE checkpoint")
    parser.add_argument(
        "--fim-prior", default=None, help="a prior trained with prior.model.fim_rate > 0"
    )
    parser.add_argument(
        "--masked-prior",
        nargs="*",
        default=[],
        help="priors trained with prior.model.order=masked, each NAME=PATH (row NAME) or PATH "
        "(row masked); NAME@N decodes in N passes (default 12), NAME+noiseX with confidence noise "
        "X, NAME+coarse level by level, NAME+tX / NAME+pX at sampling temperature / top-p X, "
        "NAME+kN the best of N fills by the likelihood of the columns on each side",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-files", type=int, default=0, help="validation files (0 = all)")
    parser.add_argument(
        "--inpaint-only", action="store_true", help="seams + inpainting only (no speed, examples)"
    )
    parser.add_argument("--tag", default="", help="write results_TAG.json instead of results.json")
    parser.add_argument(
        "--masked-only",
        dest="causal",
        action="store_false",
        help="with --inpaint-only: only the true, unigram, copy and --masked-prior rows (the "
        "--prior still scores every fill but its own rescore and left fills are skipped)",
    )
    parser.add_argument(
        "--real-examples",
        action="store_true",
        help="--prior is trained on the real-audio VQ-VAE: write only its real_* examples (the "
        "masked fill with the first --masked-prior)",
    )
    args = parser.parse_args()
    if not args.causal and not args.inpaint_only:
        parser.error("--masked-only needs --inpaint-only (the plots and examples use rescore)")
    torch.manual_seed(0)
    loaded = load_prior(args.prior)
    codec = loaded.codec
    if args.real_examples:
        first = next(iter(masked_priors(args.masked_prior[:1]).values()), (None, 0))
        made: list[str] = []
        put_real(codec, HERE / "examples", made, loaded.prior, first[0])
        print("\n".join(made))
        return
    SYNTH[:] = [args.prior, str(resolve_vqvae(loaded.config.get("vqvae") or ""))]
    train_g, val_g, train_m, val_m = files(codec, None)
    if args.max_files:
        val_g, val_m = val_g[: args.max_files], val_m[: args.max_files]
    results: dict = {"prior": args.prior, "val_files": len(val_g)}
    recon = [decode(codec, g) for g in val_g]
    jumps = np.asarray(splice_seams(codec, val_g))
    nat_recon, nat_orig = natural_jumps(recon), natural_jumps(val_m)
    results["seams_splice_vs_reconstructions"] = seam_figures(jumps, nat_recon)
    results["seams_splice_vs_originals"] = seam_figures(jumps, nat_orig)
    seeds = list(range(args.seeds))
    fim = load_prior(args.fim_prior).prior if args.fim_prior else None
    masked = masked_priors(args.masked_prior)
    inpaint, inpaint_seams = inpaint_study(
        loaded, train_g, val_g, train_m, val_m, seeds, args.candidates, fim, masked, args.causal
    )
    results["inpaint"] = inpaint
    for m, seam in inpaint_seams.items():
        results["inpaint"][m]["seam_percentile_vs_reconstructions"] = seam_figures(seam, nat_recon)[
            "seam_percentile"
        ]
    if args.inpaint_only:
        name = f"results_{args.tag}.json" if args.tag else "results.json"
        (HERE / name).write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        return
    results["speed"] = speed(codec, val_g, Path("/tmp/edit_study_speed"))
    real = Codec.from_checkpoint(args.real) if args.real else None
    if real is not None:
        _, val_r, _, _ = files(real, None)
        val_r = val_r[:24]
        rec = [decode(real, g) for g in val_r]
        results["real_seams_splice_vs_reconstructions"] = seam_figures(
            splice_seams(real, val_r), natural_jumps(rec)
        )
    plot(results, jumps, nat_recon, nat_orig, inpaint_seams)
    results["examples"] = examples(loaded, real, val_g, HERE / "examples", 0, SYNTH)
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "examples"}, indent=2))


if __name__ == "__main__":
    main()
