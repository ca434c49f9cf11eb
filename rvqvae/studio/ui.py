"""Glue between gradio and the engine: errors as one line in the page; long work (listen,
generate, edit) in a thread whose progress and first results stream to the page and which a
Stop button (or the page going away) stops at its next progress report."""

# no ``from __future__ import annotations``: gradio reads the Stop handler's annotation
# (``gr.Request``) at run time
import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from rvqvae.studio.engine import Cancelled, Engine, Output, Progress, stoppable

Work = Callable[[Progress, Callable[[Output], None]], Output]


def fail(exc: BaseException) -> Exception:
    """The exception a handler raises: :class:`gradio.Error` with the CLIs' one-line message."""
    import gradio as gr

    from rvqvae.codec.cli import one_line

    if isinstance(exc, Cancelled):
        return gr.Error("stopped", print_exception=False)
    text = str(exc).strip().splitlines()[0] if isinstance(exc, ValueError | KeyError) else ""
    return gr.Error(text.strip("'\"") or one_line(exc), print_exception=False)


def session_of(request: Any) -> str:
    return getattr(request, "session_hash", None) or "default"


async def run_stoppable(
    engine: Engine, session: str, kind: str, work: Work, progress: Any
) -> AsyncIterator[tuple[str, Output]]:
    """Run ``work(progress, on_audio)`` in a thread; yield ``("audio", Output)`` as soon as its
    audio is ready and ``("done", Output)`` at the end, showing its progress meanwhile.

    The work stops (:class:`Cancelled`, at its next progress report) when
    ``engine.cancel(session, kind)`` is called (the ``stop_*`` endpoints) or when gradio
    cancels this handler (a Stop button's ``cancels=``, the page closed): the handler is a
    coroutine, so that cancellation reaches it at once, not after the work's next result."""
    stop = engine.stop_event(session, kind)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(event: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:  # the server's loop has closed: nobody is waiting
            pass

    def target() -> None:
        try:
            report = stoppable(lambda f, d: put(("progress", (f, d))), stop)
            put(("done", work(report, lambda o: put(("audio", o)))))
        except BaseException as exc:  # noqa: BLE001 (re-raised in the handler)
            put(("error", exc))
        finally:
            engine.release(session, kind, stop)

    threading.Thread(target=target, daemon=True, name=f"studio-{kind}").start()
    try:
        while True:
            what, value = await events.get()
            if what == "progress":
                progress(value[0], desc=value[1])
            elif what == "error":
                raise fail(value)
            else:
                yield what, value
                if what == "done":
                    return
    finally:
        stop.set()  # cancelled or closed before the end: the thread stops at its next report


def stop_button(engine: Engine, kind: str, button: Any, event: Any, notes: Any, name: str) -> None:
    """``button`` stops the ``kind`` work of ``event`` in the page's session: gradio cancels the
    event (``cancels=``) and API endpoint ``name`` stops the session's running ``kind`` work."""
    import gradio as gr

    def stop(request: gr.Request) -> str:
        running = engine.cancel(session_of(request), kind)
        return "stopping at the next step" if running else "nothing running to stop"

    button.click(stop, None, notes, api_name=name, cancels=[event], queue=False)
