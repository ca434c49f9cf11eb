"""The page: Runs, Listen, Generate and Edit tabs over a :class:`~rvqvae.studio.engine.Engine`.

gradio is imported here only inside functions (it is the ``studio`` extra). Every handler turns
an error into its one-line message shown in the page (:class:`gradio.Error`); long work (listen,
generate, edit) reports progress and stops on its tab's Stop button (:mod:`.ui`); the queue runs
``concurrency`` requests of each kind at once, so one generation does not hold the page for
others.
"""

# no ``from __future__ import annotations``: gradio reads the handlers' annotations
# (``gr.Request``) at run time to know what to inject
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rvqvae.studio.catalog import COLUMNS, PRIOR, Catalog
from rvqvae.studio.engine import Engine
from rvqvae.studio.generation import run_generate
from rvqvae.studio.ui import fail, run_stoppable, session_of, stop_button

if TYPE_CHECKING:
    import gradio as gr

TITLE = "rvqvae studio"


def build_app(catalog: Catalog, engine: Engine, concurrency: int = 2) -> "gr.Blocks":
    """The Blocks of the page (not launched); API names: ``runs``, ``run_files``, ``listen``,
    ``stop_listen``, ``prior_files``, ``generate``, ``stop`` and the Edit tab's."""
    import gradio as gr

    from rvqvae.studio.edit_tab import build_edit_tab

    def runs_table() -> tuple[dict[str, Any], str]:
        catalog.refresh()
        headers, rows = catalog.table()
        notes = "\n".join(f"- {n}" for n in catalog.notes) or ""
        vq, pr = catalog.choices("vqvae"), catalog.choices(PRIOR)
        return (
            gr.update(value={"headers": headers, "data": rows}),
            notes,
            gr.update(choices=vq),
            gr.update(choices=pr),
        )

    def file_choices(run_path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validation files of the chosen run and its number of levels."""
        if not run_path:
            return gr.update(choices=[], value=None), gr.update()
        try:
            run = catalog.get(run_path)
            files = engine.validation_files(run)
            codec = engine.prior(run).codec if run.kind == PRIOR else engine.codec(run)
        except Exception as exc:
            raise fail(exc) from None
        choices = [(p.name, str(p)) for p in files]
        levels = int(codec.model.num_quantizers)
        return (
            gr.update(choices=choices, value=choices[0][1] if choices else None),
            gr.update(maximum=levels, value=levels),
        )

    async def listen(
        run_path: str,
        file: str | None,
        upload: str | None,
        levels: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's injection)
    ) -> AsyncIterator[tuple[Any, ...]]:
        try:
            run = catalog.get(run_path, "vqvae")
            source = engine.audio_source(run, file, upload)
        except Exception as exc:
            raise fail(exc) from None
        session = session_of(request)
        async for _, out in run_stoppable(
            engine,
            session,
            "listen",
            lambda p, _: engine.listen(run, source, int(levels), p),
            progress,
        ):
            f = out.files
            yield (
                str(f["original"]),
                str(f["original_mel"]),
                str(f["griffinlim"]),
                str(f["vocoder"]) if "vocoder" in f else None,
                str(f["recon_mel"]),
                str(f["grid"]),
                out.note(),
            )

    async def generate(
        prior_path: str,
        seconds: float,
        temperature: float,
        top_k: float,
        top_p: float,
        seed: float,
        prompt_file: str | None,
        prompt_upload: str | None,
        prompt_seconds: float | None,
        vocoder: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's injection)
    ) -> AsyncIterator[tuple[Any, ...]]:
        try:
            run = catalog.get(prior_path, PRIOR)
            prompt = None
            if prompt_upload:
                prompt = engine.audio_source(run, None, prompt_upload)
            elif prompt_file:
                prompt = engine.audio_source(run, prompt_file, None)
            ask = {
                "seconds": float(seconds),
                "temperature": float(temperature),
                "top_k": int(top_k),
                "top_p": float(top_p),
                "seed": int(seed),
                "prompt": str(prompt) if prompt else None,
                "prompt_seconds": float(prompt_seconds) if prompt_seconds else None,
                "vocoder": bool(vocoder),
            }
        except Exception as exc:
            raise fail(exc) from None
        skip = gr.skip()
        async for kind, out in run_stoppable(
            engine,
            session_of(request),
            "generate",
            lambda p, a: run_generate(engine, run, ask, p, a),
            progress,
        ):
            f = out.files
            if kind == "audio":
                yield str(f["audio"]), skip, skip, skip, out.note()
            else:
                yield str(f["audio"]), str(f["mel"]), str(f["grid"]), str(f["codes"]), out.note()

    headers, rows = catalog.table()
    levels = 3
    # each event's own limit rather than demo.queue(default_concurrency_limit=...), which
    # rebuilds gradio's whole app once more (0.1 s of the start on an idle machine)
    limit = {"concurrency_limit": max(1, int(concurrency))}
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nRuns under: "
            + ", ".join(f"`{f}`" for f in catalog.folders)
            + ". Everything runs on this machine; files outside these folders are refused."
        )
        with gr.Tab("Runs", id="runs"):
            table = gr.Dataframe(
                value={"headers": headers, "data": rows},
                datatype=[t for _, t in COLUMNS],
                interactive=False,
                label="VQ-VAE, prior and vocoder runs (click a header to sort)",
                elem_id="runs-table",
            )
            notes = gr.Markdown("\n".join(f"- {n}" for n in catalog.notes))
            refresh = gr.Button("Read the folders again")
        with gr.Tab("Listen", id="listen"):
            with gr.Row():
                l_run = gr.Dropdown(
                    catalog.choices("vqvae"),
                    value=None,
                    label="VQ-VAE run",
                    scale=2,
                    elem_id="listen-run",
                )
                l_file = gr.Dropdown([], label="validation file", scale=2)
                l_upload = gr.Audio(
                    type="filepath", sources=["upload"], label="or upload a file", scale=2
                )
                l_levels = gr.Slider(1, levels, value=levels, step=1, label="first k levels")
            with gr.Row():
                l_go = gr.Button("Listen", variant="primary", elem_id="listen-button")
                l_stop = gr.Button("Stop", variant="stop", elem_id="listen-stop")
            with gr.Row():
                with gr.Column():
                    o_orig = gr.Audio(label="original", type="filepath", interactive=False)
                    o_orig_mel = gr.Image(label="original mel", type="filepath")
                with gr.Column():
                    o_gl = gr.Audio(label="reconstruction: Griffin-Lim", type="filepath")
                    o_voc = gr.Audio(label="reconstruction: vocoder", type="filepath")
                    o_rec_mel = gr.Image(label="reconstruction mel", type="filepath")
            o_grid = gr.Image(label="code grid", type="filepath", elem_id="listen-grid")
            l_notes = gr.Textbox(label="notes", lines=2, interactive=False)
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                g_run = gr.Dropdown(
                    catalog.choices(PRIOR),
                    value=None,
                    label="prior run",
                    scale=3,
                    elem_id="prior-run",
                )
                g_seconds = gr.Slider(0.5, engine.settings.max_seconds, value=4, label="seconds")
                g_seed = gr.Number(0, precision=0, label="seed")
            with gr.Row():
                g_temp = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="temperature")
                g_topk = gr.Number(0, precision=0, minimum=0, label="top-k (0 = all)")
                g_topp = gr.Slider(0.05, 1.0, value=0.95, step=0.01, label="top-p")
                g_voc = gr.Checkbox(True, label="vocoder (when the run has one)")
            with gr.Accordion("prompt (optional): continue a recording", open=False):
                with gr.Row():
                    g_pfile = gr.Dropdown([], label="a validation file of the prior's VQ-VAE")
                    g_pup = gr.Audio(type="filepath", sources=["upload"], label="or upload")
                    g_psec = gr.Number(None, label="prompt seconds (empty = whole file)")
            with gr.Row():
                g_go = gr.Button("Generate", variant="primary", elem_id="generate-button")
                g_stop = gr.Button("Stop", variant="stop", elem_id="generate-stop")
            g_audio = gr.Audio(label="sample", type="filepath", elem_id="generated-audio")
            with gr.Row():
                g_mel = gr.Image(label="mel", type="filepath")
                g_codes = gr.File(label="codes file (python -m rvqvae.decode reads it)")
            g_grid = gr.Image(label="code grid", type="filepath", elem_id="generated-grid")
            g_notes = gr.Textbox(label="notes", lines=2, interactive=False)
        with gr.Tab("Edit", id="edit"):
            build_edit_tab(catalog, engine, limit)

        refresh.click(runs_table, None, [table, notes, l_run, g_run], api_name="runs", **limit)
        l_run.change(file_choices, l_run, [l_file, l_levels], api_name="run_files", **limit)
        lis = l_go.click(
            listen,
            [l_run, l_file, l_upload, l_levels],
            [o_orig, o_orig_mel, o_gl, o_voc, o_rec_mel, o_grid, l_notes],
            api_name="listen",
            **limit,
        )
        stop_button(engine, "listen", l_stop, lis, l_notes, "stop_listen")
        hidden_levels = gr.Slider(1, 8, visible=False)
        g_run.change(file_choices, g_run, [g_pfile, hidden_levels], api_name="prior_files", **limit)
        gen = g_go.click(
            generate,
            [g_run, g_seconds, g_temp, g_topk, g_topp, g_seed, g_pfile, g_pup, g_psec, g_voc],
            [g_audio, g_mel, g_grid, g_codes, g_notes],
            api_name="generate",
            **limit,
        )
        stop_button(engine, "generate", g_stop, gen, g_notes, "stop")
    return demo


def output_folders(engine: Engine) -> list[str]:
    """Folders gradio may serve files from: the session's output folder only."""
    return [str(Path(engine.settings.output).resolve())]
