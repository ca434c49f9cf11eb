"""What ``python -m rvqvae.studio`` refuses before it starts anything (the CLI prints the
message as one line and exits 1), and how it imports gradio."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rvqvae.studio.safety import StudioError
from rvqvae.studio.server import start


def test_a_missing_runs_folder_is_refused(tmp_path) -> None:
    with pytest.raises(StudioError, match="nowhere: no such folder"):
        start({"runs": str(tmp_path / "nowhere")}, str(tmp_path))
    with pytest.raises(StudioError, match="at least one folder"):
        start({"runs": []}, str(tmp_path))


def test_gradio_is_imported_without_its_stub_upkeep() -> None:
    """The studio imports gradio without its import-time re-rendering of its ``.pyi`` stubs
    (a third of the start), and gradio's components still make a page."""
    pytest.importorskip("gradio")
    code = (
        "from rvqvae.studio.server import _no_stub_upkeep, import_gradio\n"
        "gr = import_gradio()\n"
        "import gradio.blocks_events as b, gradio.component_meta as m\n"
        "assert m.create_or_modify_pyi is _no_stub_upkeep is b.create_or_modify_pyi\n"
        "with gr.Blocks() as demo:\n"
        "    t = gr.Textbox()\n"
        "    gr.Button().click(lambda s: s, t, t, api_name='echo')\n"
        "print(sorted(demo.get_api_info()['named_endpoints']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['/echo']"
