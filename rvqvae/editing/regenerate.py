"""Regenerating a range of a grid with the causal prior: inpainting, variation, scoring.

The prior (:mod:`rvqvae.prior.model`) samples column by column, slot by slot, calling a
*picker* once per token in a fixed order. :class:`ForcedPicker` rides on that: it hands back
the given code where a token is fixed (the kept levels of a variation, the columns after an
inpainted range) and adds up the prior's log-probability of the fixed tokens it is told to
score, so one pass with the KV cache both draws a fill and scores the right context after it.

- :func:`regenerate` with ``candidates=1`` fills ``[start, end)`` from the left context only;
  with ``candidates=K`` it draws K fills and keeps the one under which the prior finds the
  following ``right_columns`` true columns most likely (rescoring: an argmax of
  ``log p(right | left, fill)``, so the fill also fits what comes after it), or draws one in
  proportion to that likelihood (``select="weighted"``).
- ``levels_from=k`` keeps levels ``< k`` in the range and redraws the rest (a variation).
- ``method="fim"`` fills the range with a prior trained for fill-in-the-middle
  (``prior.model.fim_rate > 0``, :mod:`rvqvae.prior.infill`): the columns on both sides (half
  the context each, more of one side where the other runs out) go in first, then the range.
- ``method="masked"`` fills it with a masked prior (``prior.model.order=masked``,
  :mod:`rvqvae.prior.masked`) seeing the same window on both sides at once, by iterative
  parallel decoding; with ``candidates=K`` it decodes K fills together and keeps the one under
  which the masked prior finds the ``right_columns`` true columns on each side most likely.
- :func:`range_nll` is the prior's NLL of a grid's true codes in a range, given the left.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rvqvae.editing.ranges import ColumnRange, EditError
from rvqvae.prior.infill import can_infill, infill
from rvqvae.prior.masked import MaskedPrior, masked_fill, sides_log_likelihood
from rvqvae.prior.model import CodePrior, Picker
from rvqvae.prior.sampling import SamplingSettings, make_picker
from rvqvae.vocoder.griffinlim import torch_threads

METHODS = ("rescore", "left", "fim", "masked")


class ForcedPicker:
    """A picker that forces ``values [B, C, S]`` where ``fixed [C, S]`` and draws elsewhere with
    ``draw``; ``log_prob [B]`` sums log p of the fixed tokens where ``scored [C, S]``."""

    def __init__(self, draw: Picker, fixed: Tensor, values: Tensor, scored: Tensor, first: int):
        self.draw, self.fixed, self.values, self.scored = draw, fixed, values, scored
        self.slots = fixed.shape[1]
        self.position = first * self.slots  # the flat (column, slot) the next call picks
        self.log_prob = torch.zeros(values.shape[0], dtype=torch.float64)

    def __call__(self, logits: Tensor) -> Tensor:
        c, s = divmod(self.position, self.slots)
        self.position += 1
        if not self.fixed[c, s]:
            return self.draw(logits)
        codes = self.values[:, c, s].to(logits.device)
        if self.scored[c, s]:
            picked = F.log_softmax(logits.float(), dim=-1).gather(-1, codes[:, None])[:, 0]
            self.log_prob += picked.double().cpu()
        return codes


@dataclass
class Regenerated:
    """The edited grid, every candidate's fill ``[K, rows, cols, Q]`` and its score (log-
    likelihood in nats of the right context, for masked fills of both sides; all zero without
    rescoring), and which candidate was kept."""

    grid: Tensor
    fills: Tensor
    right_log_prob: Tensor
    chosen: int
    right: ColumnRange


def check_prior_fits(prior: CodePrior, grid: Tensor, where: str = "the codes") -> None:
    """The prior models grids of ``grid``'s rows, levels and codebook (else one line)."""
    lay = prior.layout
    if (grid.shape[0], grid.shape[2]) != (lay.rows, lay.levels) or int(grid.max()) >= (
        lay.codebook_size
    ):
        raise EditError(
            f"the prior models grids of {lay.rows} rows x {lay.levels} levels x "
            f"{lay.codebook_size} codes but {where} have {grid.shape[0]} rows x {grid.shape[2]} "
            "levels: use the prior trained on the VQ-VAE that wrote them"
        )


def _run(
    prior: CodePrior,
    values: Tensor,
    prompt_len: int,
    fixed: Tensor,
    scored: Tensor,
    batch: int,
    draw: Picker,
) -> tuple[Tensor, Tensor]:
    """``batch`` rows of the columns ``values [C, S]`` regenerated after the first
    ``prompt_len`` (kept as the prompt), forced where ``fixed``: ``(tokens [B, C, S], log p of
    the scored tokens [B])``."""
    device = next(prior.parameters()).device
    rows = values[None].expand(batch, -1, -1).to(device)
    prompt = rows[:, :prompt_len] if prompt_len else None
    picker = ForcedPicker(draw, fixed, rows, scored, prompt_len)
    with torch_threads(1):  # many tiny ops: extra threads only slow sampling down
        out = prior.generate(batch, values.shape[0], picker, prompt)
    return out.cpu(), picker.log_prob


@torch.no_grad()
def regenerate(
    prior: CodePrior,
    grid: Tensor,
    span: ColumnRange,
    settings: SamplingSettings,
    seed: int = 0,
    levels_from: int = 0,
    candidates: int = 1,
    right_columns: int = 4,
    select: str = "best",
    method: str = "rescore",
) -> Regenerated:
    """Redraw levels ``>= levels_from`` of columns ``span`` of ``grid [rows, cols, Q]`` from the
    prior given the columns before it (at most one context); with ``candidates > 1`` keep the
    fill under which the next ``right_columns`` true columns are most likely (``select=best``)
    or draw one with probability proportional to that likelihood (``weighted``: sampling
    importance resampling of ``p(fill | left, right)``). ``method``: ``rescore`` (the above),
    ``left`` (one draw, left context only), ``fim`` (one fill given the columns on both sides,
    :func:`_fill_from_both_sides`) or ``masked`` (the same by parallel decoding; with
    ``candidates > 1`` K fills at once, each scored by the masked prior's likelihood of the
    ``right_columns`` true columns on *each* side given it, then ``select``). Deterministic for
    ``seed``."""
    check_prior_fits(prior, grid)
    if method not in METHODS:
        raise EditError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    masked_prior = getattr(prior, "order", None) == MaskedPrior.order
    if masked_prior != (method == "masked"):
        raise EditError(
            "a masked prior (prior.model.order=masked) fills ranges with method=masked"
            if masked_prior
            else "method=masked needs a prior trained with prior.model.order=masked: train "
            "one, or use method=rescore"
        )
    if method in ("left", "fim"):
        candidates = 1
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise EditError(f"candidates must be an integer >= 1, got {candidates!r}")
    if isinstance(right_columns, bool) or not isinstance(right_columns, int) or right_columns < 0:
        raise EditError(f"right_columns must be an integer >= 0, got {right_columns!r}")
    if select not in ("best", "weighted"):
        raise EditError(f"select must be best or weighted, got {select!r}")
    generator = torch.Generator().manual_seed(int(seed))
    if method in ("fim", "masked"):
        return _fill_from_both_sides(
            prior,
            grid,
            span,
            settings,
            generator,
            levels_from,
            method,
            candidates=candidates,
            side_columns=right_columns,
            select=select,
        )
    lay = prior.layout
    columns = lay.to_columns(grid.long())  # [C, S]
    left = max(0, span.start - prior.context_columns)  # the prior sees no further back
    end = min(columns.shape[0], span.end + right_columns) if candidates > 1 else span.end
    if end == span.end:
        candidates = 1  # nothing after the range to score: left context only
    right = ColumnRange(span.end, end, span.column_s)
    n = end - left
    fixed = torch.ones(n, lay.slots, dtype=torch.bool)
    fixed[span.start - left : span.end - left] = prior.slot_level.cpu() < levels_from
    scored = torch.zeros_like(fixed)
    scored[span.end - left :] = True
    draw = make_picker(settings, generator)
    prompt_len = span.start - left
    out, log_prob = _run(prior, columns[left:end], prompt_len, fixed, scored, candidates, draw)
    fills = lay.to_grid(out[:, span.start - left : span.end - left])  # [K, rows, cols, Q]
    chosen = _choose(log_prob, select, generator)
    edited = grid.clone().long()
    edited[:, span.start : span.end] = fills[chosen]
    return Regenerated(edited, fills, log_prob, chosen, right)


def _choose(log_prob: Tensor, select: str, generator: torch.Generator) -> int:
    """The candidate kept: the likeliest (``best``) or one drawn in proportion (``weighted``)."""
    if len(log_prob) == 1 or select == "best":
        return int(torch.argmax(log_prob))
    return int(torch.multinomial(torch.softmax(log_prob, dim=0).float(), 1, generator=generator))


def fim_window(context: int, span: ColumnRange, columns: int) -> tuple[int, int]:
    """Columns ``[first, last)`` around ``span`` that fit ``context``: half of what is left on
    each side, the rest of it on one side where the other has fewer columns."""
    budget = context - (span.end - span.start)
    right = min(columns - span.end, max(budget // 2, budget - span.start))
    left = min(span.start, budget - right)
    return span.start - left, span.end + right


def _fill_from_both_sides(
    prior: CodePrior,
    grid: Tensor,
    span: ColumnRange,
    settings: SamplingSettings,
    generator: torch.Generator,
    levels_from: int,
    method: str,
    *,
    candidates: int = 1,
    side_columns: int = 0,
    select: str = "best",
) -> Regenerated:
    """A fill of ``span`` given up to half the context on each side (the rest of the context
    on one side where the other has fewer columns): by :func:`infill` (``fim``) or by
    :func:`masked_fill` (``masked``: ``candidates`` fills at once and the one kept by
    ``select`` on :func:`sides_log_likelihood` of ``side_columns`` on each side)."""
    if method == "fim" and not can_infill(prior):
        raise EditError(
            "method=fim needs a prior trained for fill-in-the-middle: train one with "
            "prior.model.fim_rate=0.5 (flat order), or use method=rescore"
        )
    lay, middle = prior.layout, span.end - span.start
    budget = prior.context_columns - middle
    if budget < 1:
        raise EditError(
            f"method={method} fills at most {prior.context_columns - 1} columns "
            f"({(prior.context_columns - 1) * span.column_s:.2f} s) but the range has {middle}: "
            "use a shorter range" + (" or method=rescore" if method == "fim" else "")
        )
    columns = lay.to_columns(grid.long())  # [C, S]
    first, last = fim_window(prior.context_columns, span, columns.shape[0])
    left, right = span.start - first, last - span.end
    window = columns[first:last][None].to(prior.bos.device)
    keep = (prior.slot_level.cpu() < levels_from)[None].expand(middle, -1)
    draw = make_picker(settings, generator)
    report = getattr(prior, "report_columns", None)  # the studio's view: progress and Stop
    if method == "masked":  # progress by decoding pass, reported as a share of the columns
        steps = prior.decode_steps  # (coarse-first decoding takes at least one pass per level)
        progress = (
            None if report is None else (lambda t: report(min(middle, t * middle // steps), middle))
        )
        hidden = torch.zeros(window.shape[1:], dtype=torch.bool)
        hidden[left : left + middle] = ~keep
        window = window.expand(candidates, -1, -1)
        out = masked_fill(prior, window, hidden, draw, progress=progress, generator=generator)
    else:
        progress = None if report is None else (lambda n: report(n, middle))
        with torch_threads(1):
            out = infill(prior, window, left, left + middle, draw, keep, progress)
    fills = lay.to_grid(out[:, left : left + middle].cpu())  # [K, rows, cols, Q]
    scores = torch.zeros(len(fills), dtype=torch.float64)
    if len(fills) > 1:
        scores = sides_log_likelihood(prior, out, left, left + middle, side_columns)
    chosen = _choose(scores, select, generator)
    edited = grid.clone().long()
    edited[:, span.start : span.end] = fills[chosen]
    return Regenerated(
        edited, fills, scores, chosen, ColumnRange(span.end, span.end + right, span.column_s)
    )


@torch.no_grad()
def range_nll(prior: CodePrior, grid: Tensor, span: ColumnRange) -> float:
    """The prior's negative log-likelihood (nats) of ``grid``'s codes in ``span``, given the
    columns before it (at most one context)."""
    check_prior_fits(prior, grid)
    columns = prior.layout.to_columns(grid.long())
    left = max(0, span.start - prior.context_columns)
    n = span.end - left
    fixed = torch.ones(n, prior.layout.slots, dtype=torch.bool)
    scored = torch.zeros_like(fixed)
    scored[span.start - left :] = True

    def never(logits: Tensor) -> Tensor:
        raise AssertionError("every token is fixed")

    _, log_prob = _run(prior, columns[left : span.end], span.start - left, fixed, scored, 1, never)
    return float(-log_prob[0])
