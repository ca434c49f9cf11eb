"""The Edit tab: the operations of :mod:`rvqvae.editing` on a file of a run (swap levels with
another file, blend, splice, inpaint, variation, continue), before and after."""

# no ``from __future__ import annotations``: gradio reads the handler's annotations at run time
from collections.abc import AsyncIterator
from typing import Any

from rvqvae.studio.catalog import PRIOR, Catalog
from rvqvae.studio.edits import OPS, edit_defaults, run_edit
from rvqvae.studio.engine import Engine

HELP = (
    "**swap_levels**: levels below *levels* from A, the rest from B (and the reverse). "
    "**blend**: B's weight per position, re-quantized. **splice**: parts such as "
    "`a:0-1.5, b:2-*3, a:3-` (source:start-end seconds, *loops). **inpaint**: the prior "
    "redraws the range (*rescore*: the best of several fills by the prior's likelihood of "
    "what follows; *left*: the left context only; *fim*: both sides first, with a prior trained "
    "with `prior.model.fim_rate` > 0; *masked*: both sides at once, with a prior trained with "
    "`prior.model.order=masked`; *passes*, *confidence noise* and *level by level* set its "
    "decoding). **variation**: keeps levels below "
    "*levels*, redraws the rest over the range. **continue**: the first *prompt seconds* of A, "
    "continued to *seconds*. Ranges snap to code columns; prior operations need a prior run."
)


def build_edit_tab(catalog: Catalog, engine: Engine, limit: dict[str, Any] | None = None) -> None:
    """The tab's components and events (inside an open ``gr.Tab``); API names ``edit_files``,
    ``edit`` and ``stop_edit``; ``limit``: the events' gradio settings (``concurrency_limit``)."""
    import gradio as gr

    from rvqvae.studio.ui import fail, run_stoppable, session_of, stop_button

    limit = limit or {}

    d = edit_defaults()

    async def edit(
        run_path: str,
        op: str,
        a_file: str | None,
        a_upload: str | None,
        b_file: str | None,
        b_upload: str | None,
        start_s: float | None,
        end_s: float | None,
        levels: float,
        weight: float,
        parts: str,
        seconds: float,
        prompt_seconds: float | None,
        temperature: float,
        top_p: float,
        seed: float,
        method: str,
        steps: float,
        noise: float,
        coarse_first: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's injection)
    ) -> AsyncIterator[tuple[Any, ...]]:
        try:
            run = catalog.get(run_path)
            a = engine.audio_source(run, a_file, a_upload)
            b = engine.audio_source(run, b_file, b_upload) if (b_file or b_upload) else None
            start, end = start_s or None, end_s or None  # gradio's empty Number sends 0
            ask = {
                "op": op,
                "range": [start, end] if (start or end) else None,
                "levels": int(levels),
                "weight": float(weight),
                "parts": [p.strip() for p in (parts or "").split(",") if p.strip()],
                "seconds": float(seconds),
                "prompt_seconds": prompt_seconds or None,
                "temperature": float(temperature),
                "top_p": float(top_p),
                "seed": int(seed),
                "method": method,
                "steps": int(steps),
                "noise": float(noise),
                "coarse_first": bool(coarse_first),
            }
        except Exception as exc:
            raise fail(exc) from None
        async for _, out in run_stoppable(
            engine,
            session_of(request),
            "edit",
            lambda p, _: run_edit(engine, run, a, b, ask, p),
            progress,
        ):
            f = out.files
            codes = [str(v) for k, v in sorted(f.items()) if k.startswith("codes_")]
            yield (
                str(f["before_audio"]),
                str(f["before_grid"]),
                str(f["after_audio"]),
                str(f["after_grid"]),
                codes,
                out.note(),
            )

    runs = catalog.choices("vqvae") + catalog.choices(PRIOR)
    gr.Markdown(HELP)
    with gr.Row():
        e_run = gr.Dropdown(
            runs, value=None, label="run (a prior for inpaint/variation)", elem_id="edit-run"
        )
        e_op = gr.Radio(list(OPS), value="inpaint", label="operation")
    with gr.Row():
        e_a = gr.Dropdown([], label="A: a validation file")
        e_aup = gr.File(label="or upload A (audio or .codes.npz)", type="filepath")
        e_b = gr.Dropdown([], label="B (swap, blend, splice)")
        e_bup = gr.File(label="or upload B", type="filepath")
    with gr.Row():
        e_start = gr.Number(None, label="range start s (empty = file start)", elem_id="edit-start")
        e_end = gr.Number(None, label="range end s (empty = file end)", elem_id="edit-end")
        e_levels = gr.Number(d["levels"], precision=0, minimum=1, label="levels")
        e_weight = gr.Slider(0, 1, value=d["weight"], step=0.05, label="blend weight of B")
    with gr.Row():
        e_parts = gr.Textbox("a:0-1, b:0-1", label="splice parts")
        e_seconds = gr.Number(d["seconds"], label="continue: seconds")
        e_psec = gr.Number(None, label="continue: prompt seconds")
        e_temp = gr.Slider(0.1, 2.0, value=d["temperature"], step=0.05, label="temperature")
        e_topp = gr.Slider(0.05, 1.0, value=d["top_p"], step=0.01, label="top-p")
        e_seed = gr.Number(d["seed"], precision=0, label="seed")
        e_method = gr.Radio(
            ["rescore", "left", "fim", "masked"],
            value=d["method"],
            label="inpaint/variation: right context",
        )
    with gr.Row():  # method=masked's decoding (conf/edit.yaml's steps, noise, coarse_first)
        e_steps = gr.Number(d["steps"], precision=0, label="masked: decoding passes")
        e_noise = gr.Slider(0, 10, value=d["noise"], step=0.5, label="masked: confidence noise")
        e_coarse = gr.Checkbox(d["coarse_first"], label="masked: level by level, lowest first")
    with gr.Row():
        e_go = gr.Button("Edit", variant="primary", elem_id="edit-button")
        e_stop = gr.Button("Stop", variant="stop", elem_id="edit-stop")
    with gr.Row():
        with gr.Column():
            o_before = gr.Audio(label="before", type="filepath")
            o_before_grid = gr.Image(label="before: code grid", type="filepath")
        with gr.Column():
            o_after = gr.Audio(label="after", type="filepath", elem_id="edited-audio")
            o_after_grid = gr.Image(
                label="after: code grid", type="filepath", elem_id="edited-grid"
            )
    o_codes = gr.File(label="codes files (rvqvae.decode reads them)", file_count="multiple")
    o_notes = gr.Textbox(label="notes", lines=3, interactive=False)

    def files_of(run_path: str | None) -> tuple[Any, Any]:
        if not run_path:
            return gr.update(choices=[], value=None), gr.update(choices=[], value=None)
        try:
            files = engine.validation_files(catalog.get(run_path))
        except Exception as exc:
            raise fail(exc) from None
        choices = [(p.name, str(p)) for p in files]
        first = choices[0][1] if choices else None
        second = choices[1][1] if len(choices) > 1 else first
        return gr.update(choices=choices, value=first), gr.update(choices=choices, value=second)

    e_run.change(files_of, e_run, [e_a, e_b], api_name="edit_files", **limit)
    event = e_go.click(
        edit,
        [e_run, e_op, e_a, e_aup, e_b, e_bup, e_start, e_end, e_levels, e_weight, e_parts]
        + [e_seconds, e_psec, e_temp, e_topp, e_seed, e_method, e_steps, e_noise, e_coarse],
        [o_before, o_before_grid, o_after, o_after_grid, o_codes, o_notes],
        api_name="edit",
        **limit,
    )
    stop_button(engine, "edit", e_stop, event, o_notes, "stop_edit")
