"""Long work stops: Listen, Generate and Edit, each held inside its long step (synthesis, the
prior's columns) by a gate, then stopped through ``gradio_client`` the three ways a request
ends early: the page's Stop button (its ``stop_*`` endpoint and gradio's ``cancels=``), gradio's
cancellation alone (the page closed, ``job.cancel()``), and the ``stop_*`` endpoint alone (an
API client). Each time the work ends at its next step, the job ends, and the page answers the
next request."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from tests.studio.conftest import choice_values, existing

pytestmark = pytest.mark.xdist_group("studio")

WAIT_S = 60


class Gate:
    """Holds the work at its first step until :meth:`open` (at most ``WAIT_S``)."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

    def hold(self) -> None:
        if not self.entered.is_set():
            self.entered.set()
            self.released.wait(WAIT_S)

    def open(self) -> None:
        self.released.set()


class GatedSynth:
    """A synthesizer whose block-wise stream waits at the gate before its first block."""

    def __init__(self, synth: Any, gate: Gate) -> None:
        self._synth, self._gate = synth, gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._synth, name)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        stream, gate = self._synth.stream(*args, **kwargs), self._gate

        class Stream:
            def push(self, block: Any) -> Any:
                gate.hold()
                return stream.push(block)

            def finish(self) -> Any:
                return stream.finish()

        return Stream()


def gate_prior(monkeypatch, prior: Any, gate: Gate) -> dict[str, list[int]]:
    """The prior's ``generate`` waits at the gate after its first column; the columns it drew
    and the columns each call had to draw are recorded."""
    original, seen = prior.generate, {"drawn": [], "total": []}

    def generate(batch, columns, pick, prompt=None, progress=None):
        first = 0 if prompt is None else int(prompt.shape[1])
        seen["total"].append(columns - first)

        def column(n: int) -> None:
            seen["drawn"].append(n - first)
            gate.hold()
            if progress is not None:
                progress(n)

        return original(batch, columns, pick, prompt, column)

    monkeypatch.setattr(prior, "generate", generate)
    return seen


def wait_until_idle(engine: Any) -> None:
    """Every request's work has ended (its thread released its Stop event)."""
    deadline = time.monotonic() + WAIT_S
    while engine.running() or any(t.name.startswith("studio-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the stopped work is still running"
        time.sleep(0.05)


def folders(engine: Any, kind: str) -> set[Path]:
    root = Path(engine.settings.output) / kind
    return set(root.iterdir()) if root.is_dir() else set()


def test_listen_stop_button_ends_the_job_and_its_synthesis(
    client, studio, tiny_vocoder, monkeypatch
):
    """The Listen tab's Stop: the ``stop_listen`` endpoint and gradio's cancellation of the
    listen event, as the button sends them, while the reconstruction is being synthesised."""
    from gradio_client.utils import Status

    engine = studio.engine
    run = str(tiny_vocoder.vqvae.resolve())
    files, _ = client.predict(run, api_name="/run_files")
    file = choice_values(files)[0]
    gate = Gate()
    synthesizer = engine.synthesizer
    monkeypatch.setattr(
        engine, "synthesizer", lambda *a, **k: GatedSynth(synthesizer(*a, **k), gate)
    )
    before = folders(engine, "listen")
    job = client.submit(run, file, None, 3, api_name="/listen")
    assert gate.entered.wait(WAIT_S), "the listen request never reached its synthesis"
    assert client.predict(api_name="/stop_listen") == "stopping at the next step"
    job.cancel()
    gate.open()
    wait_until_idle(engine)
    assert job.status().code == Status.CANCELLED
    (folder,) = folders(engine, "listen") - before
    written = {p.name for p in folder.iterdir()}
    assert "original.wav" in written  # it had started ...
    assert not {"vocoder.wav", "grid.png"} & written  # ... and stopped after Griffin-Lim
    assert client.predict(api_name="/stop_listen") == "nothing running to stop"

    monkeypatch.undo()  # the page answers the next request, to its end
    out = client.predict(run, file, None, 2, api_name="/listen")
    assert len(sf.read(existing(out[2]))[0]) == len(sf.read(existing(out[3]))[0]) > 0
    assert existing(out[5]).read_bytes()[:4] == b"\x89PNG"


def test_edit_inpaint_stops_between_columns_when_gradio_cancels_it(
    client, studio, prior_run, monkeypatch
):
    """gradio's cancellation alone (``job.cancel()``: what closing the page does) reaches the
    edit handler at once, and the prior stops drawing at its next column."""
    from gradio_client.utils import Status

    engine = studio.engine
    prior = str(prior_run.resolve())
    a, _ = client.predict(prior, api_name="/edit_files")
    gate = Gate()
    seen = gate_prior(monkeypatch, engine.prior(studio.catalog.get(prior_run)).prior, gate)
    settings = (0.5, 1.5, 1, 0.5, "", 3.0, None, 1.0, 0.95, 0, "left")
    args = (prior, "inpaint", a["value"], None, None, None, *settings)
    job = client.submit(*args, api_name="/edit")
    assert gate.entered.wait(WAIT_S), "the inpaint never drew a column"
    t0 = time.monotonic()
    job.cancel()
    assert time.monotonic() - t0 < WAIT_S / 2  # answered while the work is still held
    assert engine.running() == 1
    gate.open()
    wait_until_idle(engine)
    assert job.status().code == Status.CANCELLED
    (total,) = seen["total"]
    assert total > 2 and seen["drawn"] == [1]  # stopped at the column after the gate

    out = client.predict(*args, api_name="/edit")  # the next request runs to its end
    assert seen["drawn"][1:] == list(range(1, total + 1))
    assert "regenerated levels >= 0" in out[5]


def test_generate_stop_endpoint_stops_sampling_with_a_one_line_message(
    client, studio, prior_run, monkeypatch
):
    """The ``stop`` endpoint alone (an API client's Stop): the sampling ends at the next column
    and the request answers "stopped"; a generation right after runs to its end."""
    from gradio_client.exceptions import AppError

    engine = studio.engine
    prior = str(prior_run.resolve())
    gate = Gate()
    seen = gate_prior(monkeypatch, engine.prior(studio.catalog.get(prior_run)).prior, gate)
    args = (prior, 4.0, 1.0, 0, 0.95, 3, None, None, None, False)
    job = client.submit(*args, api_name="/generate")
    assert gate.entered.wait(WAIT_S), "the generation never drew a column"
    assert client.predict(api_name="/stop") == "stopping at the next step"
    gate.open()
    with pytest.raises(AppError, match="^stopped$"):
        job.result(timeout=WAIT_S)
    wait_until_idle(engine)
    (total,) = seen["total"]
    assert total > 2 and seen["drawn"] == [1]

    out = client.predict(*args, api_name="/generate")
    assert len(sf.read(existing(out[0]))[0]) == 4 * 48000
    assert seen["drawn"][1:] == list(range(1, total + 1))
