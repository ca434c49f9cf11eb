"""Editing audio through its code grid: level swap, blend, splice (no prior) and inpainting,
variation, continuation (the prior), with the code grid view and seam measures.

Modules: ranges.py (seconds -> columns, errors), sources.py (codes or audio in), ops.py,
regenerate.py (the prior with forced tokens and rescoring), view.py (the PNG), output.py,
seams.py (edit boundaries vs natural change), app.py (the ``python -m rvqvae.edit`` job).
"""
