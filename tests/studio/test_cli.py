"""What ``python -m rvqvae.studio`` refuses before it starts anything (the CLI prints the
message as one line and exits 1)."""

from __future__ import annotations

import pytest

from rvqvae.studio.safety import StudioError
from rvqvae.studio.server import start


def test_a_missing_runs_folder_is_refused(tmp_path) -> None:
    with pytest.raises(StudioError, match="nowhere: no such folder"):
        start({"runs": str(tmp_path / "nowhere")}, str(tmp_path))
    with pytest.raises(StudioError, match="at least one folder"):
        start({"runs": []}, str(tmp_path))
