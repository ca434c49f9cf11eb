"""The studio: a local Gradio page over run folders (``python -m rvqvae.studio runs=outputs/``).

Runs (the report's figures), Listen (original vs the first k levels, Griffin-Lim vs vocoder),
Generate (the prior) and Edit (:mod:`rvqvae.editing`), on the same API as the CLIs.

Modules: safety.py (which files may be read), catalog.py (runs and their links), engine.py
(models, listen), generation.py and edits.py (the other work), app.py + edit_tab.py + ui.py (the
page), server.py (launch), __main__.py (the CLI).
"""
