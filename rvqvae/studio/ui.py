"""Glue between gradio and the engine: errors as one line in the page, work in a thread whose
progress and first results stream to the page."""

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from rvqvae.studio.engine import Cancelled, Output


def fail(exc: BaseException) -> Exception:
    """The exception a handler raises: :class:`gradio.Error` with the CLIs' one-line message."""
    import gradio as gr

    from rvqvae.codec.cli import one_line

    if isinstance(exc, Cancelled):
        return gr.Error("stopped", print_exception=False)
    text = str(exc).strip().splitlines()[0] if isinstance(exc, ValueError | KeyError) else ""
    return gr.Error(text.strip("'\"") or one_line(exc), print_exception=False)


def run_in_thread(
    work: Callable[[Callable[[float, str], None], Callable[[Output], None]], Output],
    progress: Any,
) -> Iterator[tuple[str, Any]]:
    """Run ``work(progress, on_audio)`` in a thread; yield ``("audio", Output)`` as soon as
    its audio is ready and ``("done", Output)`` at the end, reporting its progress meanwhile."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def target() -> None:
        try:
            result = work(
                lambda f, d: events.put(("progress", (f, d))), lambda o: events.put(("audio", o))
            )
            events.put(("done", result))
        except BaseException as exc:  # noqa: BLE001 (re-raised in the handler's thread)
            events.put(("error", exc))

    threading.Thread(target=target, daemon=True, name="studio-work").start()
    while True:
        kind, value = events.get()
        if kind == "progress":
            progress(value[0], desc=value[1])
        elif kind == "error":
            raise fail(value)
        else:
            yield kind, value
            if kind == "done":
                return
