"""Every endpoint of the page called with ``gradio_client`` against the running studio on the
session's tiny runs: runs table, listen (validation file and upload), generate (with a prompt),
edit, and the one-line errors the page shows (stopping: ``test_stop.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.studio.conftest import MAX_UPLOAD_MB, choice_values, existing

pytestmark = pytest.mark.xdist_group("studio")


def _app_error(client, *args, api_name: str) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api_name)
    return str(info.value)


def test_runs_table_lists_each_kind_with_links(client, studio, tiny_run, prior_run, tiny_vocoder):
    table, notes, vqvaes, priors = client.predict(api_name="/runs")
    headers, rows = table["value"]["headers"], table["value"]["data"]
    assert headers[:3] == ["kind", "folder", "linked"] and headers[-1] == "overrides"
    kinds = [r[0] for r in rows]
    assert sorted(kinds) == ["prior", "vocoder", "vqvae", "vqvae"]
    prior_row = rows[kinds.index("prior")]
    assert prior_row[2] == studio.catalog.short(tiny_run.run.resolve())  # linked to its VQ-VAE
    bits = prior_row[headers.index("prior val bit/s")]
    assert isinstance(bits, float) and bits > 0  # numbers stay numbers (sortable)
    vocoder_row = rows[kinds.index("vocoder")]
    assert vocoder_row[2] == studio.catalog.short(tiny_vocoder.vqvae.resolve())
    assert {str(tiny_run.run.resolve()), str(tiny_vocoder.vqvae.resolve())} == set(
        choice_values(vqvaes)
    )
    assert choice_values(priors) == [str(prior_run.resolve())]


def test_listen_to_a_validation_file_with_vocoder_and_griffin_lim(client, tiny_vocoder):
    run = str(tiny_vocoder.vqvae.resolve())
    files, levels = client.predict(run, api_name="/run_files")
    assert files["choices"] and levels["maximum"] == 3
    file = choice_values(files)[0]
    orig, orig_mel, gl, voc, rec_mel, grid, notes = client.predict(
        run, file, None, 1, api_name="/listen"
    )
    a, sr = sf.read(existing(orig))
    b, _ = sf.read(existing(gl))
    c, _ = sf.read(existing(voc))  # this copy of the run has a vocoder installed
    assert len(a) == len(b) == len(c) and sr == 48000
    for image in (orig_mel, rec_mel, grid):
        assert existing(image).read_bytes()[:4] == b"\x89PNG"
    assert "1 of 3 levels" in notes and "quantizer dropout" in notes
    assert "vocoder" in notes


def test_listen_without_a_vocoder_and_to_an_upload(client, tiny_run, tmp_path):
    from gradio_client import handle_file

    run = str(tiny_run.run.resolve())
    upload = tmp_path / "mine.wav"
    sf.write(upload, np.sin(np.arange(16000) / 8).astype(np.float32) * 0.5, 16000)
    out = client.predict(run, None, handle_file(str(upload)), 3, api_name="/listen")
    assert out[3] is None  # no vocoder for this run: Griffin-Lim only
    assert "no vocoder trained for this run" in out[6]
    assert len(sf.read(existing(out[0]))[0]) == 48000  # 1 s, resampled to the run's rate


def test_uploads_are_size_limited_and_decoded_with_one_line_errors(client, tiny_run, tmp_path):
    from gradio_client import handle_file

    run = str(tiny_run.run.resolve())
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    message = _app_error(client, run, None, handle_file(str(bad)), 3, api_name="/listen")
    assert "broken.wav" in message and "\n" not in message
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(MAX_UPLOAD_MB * 600_000, np.float32), 48000)
    # gradio refuses it before it is sent (launch(max_file_size=...)); the studio checks again
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(run, None, handle_file(str(big)), 3, api_name="/listen")
    from rvqvae.studio.safety import StudioError, check_upload

    with pytest.raises(StudioError, match="more than the limit of 1 MB"):
        check_upload(big, MAX_UPLOAD_MB * 1_000_000)


def test_generate_streams_audio_then_mel_grid_and_a_decodable_codes_file(client, prior_run):
    from rvqvae.codec.format import load_codes

    prior = str(prior_run.resolve())
    job = client.submit(prior, 1.5, 1.0, 0, 0.95, 7, None, None, None, True, api_name="/generate")
    results = list(job)
    audio, mel, grid, codes, notes = job.outputs()[-1]
    assert results and existing(results[0][0])  # the first result already holds the audio
    assert len(sf.read(existing(audio))[0]) == 72000  # exactly 1.5 s at 48 kHz
    assert existing(mel).read_bytes()[:4] == existing(grid).read_bytes()[:4] == b"\x89PNG"
    loaded = load_codes(existing(codes))
    assert loaded.layout == "grid" and loaded.generator["seed"] == 7
    assert "codes drawn in" in notes
    assert loaded.generator["prior_checkpoint"] == str(
        prior_run.resolve() / "checkpoints" / "best.ckpt"
    )


def test_generate_continues_a_prompt_file_of_the_run(client, prior_run):
    prior = str(prior_run.resolve())
    files, _ = client.predict(prior, api_name="/prior_files")
    prompt = choice_values(files)[0]
    out = client.predict(prior, 3.0, 1.0, 0, 1.0, 0, prompt, None, 1.0, False, api_name="/generate")
    from rvqvae.codec.format import load_codes

    codes = load_codes(existing(out[3]))
    assert codes.generator["prompt"] == prompt and codes.generator["prompt_columns"] > 0
    assert "Griffin-Lim" in out[4]


def test_bad_settings_are_one_line_errors(client, prior_run):
    prior = str(prior_run.resolve())
    files, _ = client.predict(prior, api_name="/prior_files")
    prompt = choice_values(files)[0]  # a 2 s file: longer than the 1 s asked for
    args = (1.0, 1.0, 0, 0.9, 0, prompt, None, None, False)
    message = _app_error(client, prior, *args, api_name="/generate")
    assert "is not shorter than seconds=1" in message and "\n" not in message
    top_p = (1.0, 1.0, 0, 0.0, 0, None, None, None, False)  # the page's own bounds
    assert "less than minimum" in _app_error(client, prior, *top_p, api_name="/generate")
    too_long = (60.0, 1.0, 0, 0.9, 0, None, None, None, False)
    assert "greater than maximum" in _app_error(client, prior, *too_long, api_name="/generate")


def test_files_outside_the_folders_are_refused(studio, tiny_run, tmp_path):
    from rvqvae.studio.safety import StudioError

    run = studio.catalog.get(tiny_run.run)
    outside = tmp_path / "outside.wav"
    sf.write(outside, np.zeros(4800, np.float32), 48000)
    escape = Path(studio.engine.settings.output) / "link.wav"
    escape.symlink_to(outside)
    for path in (outside, escape, f"{tiny_run.run}/../../../{outside.name}", "/etc/passwd"):
        with pytest.raises(StudioError, match="outside the folders"):
            studio.engine.audio_source(run, str(path), None)


def test_edit_inpaints_with_the_prior_and_refuses_it_without_one(client, prior_run, tiny_run):
    from rvqvae.codec.format import load_codes

    prior = str(prior_run.resolve())
    a, b = client.predict(prior, api_name="/edit_files")
    settings = (0.5, 1.5, 1, 0.5, "", 3.0, None, 1.0, 0.95, 0, "left")
    out = client.predict(
        prior, "inpaint", a["value"], None, None, None, *settings, api_name="/edit"
    )
    before, before_grid, after, after_grid, codes, notes = out
    assert len(sf.read(existing(before))[0]) == len(sf.read(existing(after))[0])
    assert existing(before_grid).read_bytes()[:4] == existing(after_grid).read_bytes()[:4]
    history = load_codes(existing(codes[0])).generator["history"]
    assert history[-1]["op"] == "inpaint" and history[-1]["method"] == "left"
    assert "regenerated levels >= 0" in notes
    # the session's prior is trained with prior.model.fim_rate > 0: both sides, then the range
    fim = client.predict(
        prior, "inpaint", a["value"], None, None, None, *settings[:-1], "fim", api_name="/edit"
    )
    assert load_codes(existing(fim[4][0])).generator["history"][-1]["method"] == "fim"
    vqvae = str(tiny_run.run.resolve())  # a VQ-VAE run: no prior to inpaint with
    message = _app_error(
        client, vqvae, "inpaint", a["value"], None, None, None, *settings, api_name="/edit"
    )
    assert "choose a prior run" in message
    # method=masked's decoding settings reach the edit app's own checks (passes, noise, order)
    masked = (prior, "inpaint", a["value"], None, None, None, *settings[:-1], "masked")
    assert "steps must be an integer >= 1" in _app_error(client, *masked, 0, api_name="/edit")
    message = _app_error(client, *masked, 4, -1.0, True, api_name="/edit")
    assert "less than minimum value 0" in message  # the slider's own bound, one line
    message = _app_error(client, *masked, 4, 4.5, True, api_name="/edit")
    assert "needs a prior trained with prior.model.order=masked" in message


def test_the_server_serves_no_file_it_did_not_write(studio, tiny_run):
    """gradio's file route answers 403 outside the session's output and its own cache: system
    files, the repository, and even a run's own files (the page serves copies it made)."""
    import urllib.error
    import urllib.request

    for path in ("/etc/passwd", str(tiny_run.ckpt), f"{studio.engine.settings.output}/../x"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{studio.url}gradio_api/file={path}", timeout=10)
        assert info.value.code == 403
