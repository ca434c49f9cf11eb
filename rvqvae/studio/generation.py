"""Generating on the page: one sample from a prior run as ``python -m rvqvae.generate`` draws
it (:func:`rvqvae.prior.evaluation.sample`, :func:`rvqvae.generate.encode_prompt`), with
progress per code column (where Stop stops it), and the audio written before the pictures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rvqvae.studio.catalog import Run
from rvqvae.studio.engine import Engine, Output, Progress, import_work_modules
from rvqvae.studio.safety import StudioError


def run_generate(
    engine: Engine,
    run: Run,
    request: dict[str, Any],
    progress: Progress,
    on_audio: Callable[[Output], None] | None = None,
) -> Output:
    """One sample of ``request['seconds']`` from the prior run (``temperature``, ``top_k``,
    ``top_p``, ``seed``, optional ``prompt`` path and ``prompt_seconds``, ``vocoder``);
    ``on_audio`` is called as soon as the WAV is written (before the pictures). ``progress`` is
    called after each code column: a Stop (:func:`~rvqvae.studio.engine.stoppable`) raises
    there."""
    import_work_modules()
    import soundfile as sf

    from rvqvae.atomic import atomic_path
    from rvqvae.codec.format import save_codes
    from rvqvae.codec.grid import grid_codes_file
    from rvqvae.codec.png import save_mel_png
    from rvqvae.generate import GenerateError, encode_prompt
    from rvqvae.prior.evaluation import length_for, sample
    from rvqvae.prior.sampling import SamplingSettings

    out, t0 = Output(), time.perf_counter()
    seconds = request["seconds"]
    if not isinstance(seconds, int | float) or not 0 < seconds <= engine.settings.max_seconds:
        raise StudioError(f"seconds must be in (0, {engine.settings.max_seconds:g}]")
    settings = SamplingSettings(
        float(request["temperature"]), int(request["top_k"]), float(request["top_p"])
    )
    progress(0.0, "loading the prior")
    loaded = engine.prior(run)
    prompt = None
    if request.get("prompt"):
        prompt = encode_prompt(
            loaded, str(request["prompt"]), request.get("prompt_seconds") or None, seconds
        )
    vqvae_ckpt = [run.vqvae / "checkpoints" / "best.ckpt"] if run.vqvae else []
    synth = engine.synthesizer(
        loaded.codec.settings, [run.checkpoint, *vqvae_ckpt], bool(request.get("vocoder"))
    )
    _, _, columns = length_for(loaded.codec, float(seconds))
    first = 0 if prompt is None else int(prompt.shape[1])
    if first >= columns:
        raise GenerateError("the prompt fills the whole length: raise seconds")

    def step(column: int) -> None:
        done = column - first
        progress(done / max(1, columns - first), f"sampling column {done}/{columns - first}")

    seed = int(request["seed"])
    prior, codec = loaded.prior, loaded.codec
    samples = sample(prior, codec, 1, float(seconds), settings, seed, prompt, step)
    out.seconds["sampling"] = samples.sampling_seconds
    progress(1.0, "audio")
    provenance = {
        "prior_checkpoint": str(run.checkpoint),
        "seed": seed,
        "sampling": settings.to_dict(),
        "prompt": str(request["prompt"]) if prompt is not None else None,
        "prompt_columns": first,
        "index": 0,
    }
    folder = engine.folder("generate")
    name = f"sample_seed{seed}"
    s, mel = loaded.codec.settings, samples.mels[0].numpy()
    wav = folder / f"{name}.wav"
    t_synth = time.perf_counter()
    with atomic_path(wav) as tmp:  # the audio first: the pictures follow
        sf.write(tmp, synth(mel, samples.num_samples), s.sample_rate, format="WAV")
    out.files["audio"] = wav
    out.seconds["synthesis"] = time.perf_counter() - t_synth
    out.seconds["first_audio"] = time.perf_counter() - t0
    out.notes.append(
        f"{seconds:g} s, {settings.to_dict()}, seed {seed}: codes drawn in "
        f"{samples.sampling_seconds:.2f} s, audio synthesised in "
        f"{out.seconds['synthesis']:.2f} s and written {out.seconds['first_audio']:.2f} s "
        f"after the request; audio: {synth.describe()}"
    )
    if on_audio is not None:
        on_audio(out)
    grid = samples.grids[0]
    codes = grid_codes_file(loaded.codec, grid.numpy(), samples.num_samples, name, provenance)
    out.files["codes"] = save_codes(codes, folder / f"{name}.codes.npz")
    hop_s = s.hop_length / s.sample_rate
    out.files["mel"] = save_mel_png(mel, folder / f"{name}.png", hop_s, name)
    title = f"{name} ({run.record.label})"
    view = folder / f"{name}.grid.png"
    out.files["grid"] = engine.grid_view(loaded.codec, grid, mel, view, title)
    out.seconds["total"] = time.perf_counter() - t0
    return out
