"""Autoregressive transformers over RVQ code grids, causal in time.

A code grid ``[rows, columns, levels]`` (8 rows x 5.86 columns/s x Q levels) is read as a
sequence of columns, each column a fixed sequence of ``S = rows * levels`` *slots*
(:class:`GridLayout`: ``level_major`` puts every row's level 0 first, then the residuals). Both
priors predict slot by slot, column by column, from a learned BOS at the start of a window of at
most ``context_columns`` columns; longer audio is generated with a sliding window, so any length
can be sampled and scored.

- :class:`FlatPrior` (``order=flat``): one transformer over the flattened tokens ``(column,
  slot)``, input = code embedding of the previous token + column and slot embeddings of the
  token being predicted (MusicGen's "flattened" pattern).
- :class:`~rvqvae.prior.depth.DepthPrior` (``order=depth``, RQ-Transformer, ``depth.py``): a
  temporal transformer over columns (each column summarised by the sum of slot-specific code
  embeddings) and a small depth transformer over the ``S`` slots of a column, conditioned on
  the temporal output.
- :class:`~rvqvae.prior.masked.MaskedPrior` (``order=masked``, ``masked.py``): a bidirectional
  transformer over the same tokens that predicts hidden tokens from both sides (MaskGIT,
  VampNet), for inpainting and variations by iterative parallel decoding.

Attention is PyTorch's ``scaled_dot_product_attention``; :class:`KVCache` holds keys and values
for sampling, so each new token costs one position, not the whole window. Both share
:class:`~rvqvae.prior.base.CodePrior` (``base.py``); :func:`build_prior` picks one by order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.prior.base import CodePrior, Picker, _init_weights
from rvqvae.prior.depth import DepthPrior
from rvqvae.prior.transformer import Transformer

__all__ = ["CodePrior", "DepthPrior", "FlatPrior", "Picker", "build_prior"]


class FlatPrior(CodePrior):
    """One transformer over the flattened ``(column, slot)`` tokens of a window."""

    order = "flat"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        hp = self.hparams_dict
        self.code_emb = nn.Embedding(hp["levels"] * self.codebook_size, hp["d_model"])
        self.transformer = Transformer(hp["d_model"], hp["n_layers"], hp["n_heads"], hp["dropout"])
        if self.fim_rate > 0:  # prefix / suffix / middle of fill-in-the-middle training (infill)
            self.segment_emb = nn.Embedding(3, hp["d_model"])
        self.apply(_init_weights)

    def _inputs(self, window: Tensor, n: int) -> Tensor:
        """Inputs ``[B, n, d]`` of the first ``n`` flat positions of ``window [B, Cw, S]`` read
        in order (only codes before position ``n - 1`` are read)."""
        cw, device = window.shape[1], window.device
        in_order = torch.arange(cw, device=device)
        prefix = torch.zeros(cw, dtype=torch.long, device=device)  # one FIM prefix segment
        return self.sequence_inputs(window, in_order, prefix, torch.arange(n, device=device))

    def sequence_inputs(
        self, columns: Tensor, order: Tensor, segments: Tensor, positions: Tensor
    ) -> Tensor:
        """Inputs ``[B, len(positions), d]`` at flat sequence ``positions`` of window ``columns
        [B, C, S]`` read in column ``order`` (sequence column -> true column; the identity
        reads in order, fill-in-the-middle reorders, :mod:`rvqvae.prior.infill`), each sequence
        column in ``segments`` (0 prefix, 1 suffix, 2 middle). A token's input: BOS or the
        previous token of the sequence, the same slot of the true previous column when that
        column comes earlier in the sequence ("none" otherwise), its true column's and its
        slot's embeddings, and its segment's (FIM priors). Only tokens before each position
        are read."""
        c, s, k = columns.shape[1], self.slots, self.codebook_size
        order, segments, positions = (t.to(columns.device) for t in (order, segments, positions))
        seq_col, slot = positions // s, positions % s
        true_col = order[seq_col]
        prev = (positions - 1).clamp(min=0)
        previous = columns[:, order[prev // s], prev % s]  # [B, P]
        content = self.code_emb(self.slot_level[prev % s] * k + previous)
        content = torch.where((positions == 0)[None, :, None], self.bos.expand_as(content), content)
        rank = torch.empty_like(order)  # true column -> its place in the sequence
        rank[order] = torch.arange(c, device=order.device)
        left = (true_col - 1).clamp(min=0)
        has_left = (true_col > 0) & (rank[left] < seq_col)
        above = slot * k + columns[:, left, slot]
        above = torch.where(has_left[None], above, torch.full_like(above, s * k))
        x = content + self.above_emb(above) + self.column_emb(true_col) + self.slot_emb(slot)
        if hasattr(self, "segment_emb"):
            x = x + self.segment_emb(segments[seq_col])
        return x

    def in_order_segment(self) -> Tensor | float:
        """In-order windows are one prefix segment of fill-in-the-middle training (the
        embedding exists when ``fim_rate > 0``, :mod:`rvqvae.prior.infill`)."""
        return self.segment_emb.weight[0] if hasattr(self, "segment_emb") else 0.0

    def forward(self, columns: Tensor) -> Tensor:
        b, c, s = columns.shape
        h = self.transformer(self._inputs(columns, c * s))  # [B, C*S, d]
        slots = torch.arange(c * s, device=columns.device) % s
        return self.level_logits(h, slots).reshape(b, c, s, -1)

    def _generate(
        self,
        batch: int,
        columns: int,
        pick: Picker,
        prompt: Tensor | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Tensor:
        s, k = self.slots, self.codebook_size
        out, first = self._prompted_output(batch, columns, prompt)
        cache = self.transformer.new_cache(batch, self.context_columns * s, self.bos)
        start, logits, segment = -1, None, self.in_order_segment()
        fim = isinstance(segment, Tensor)
        for c in range(first, columns):
            window = self._window_start(c, max(start, 0))
            if window != start:  # (re)fill the cache: BOS, columns [window, c), then (c, 0)
                start = window
                cache.reset()
                h = self.transformer(
                    self._inputs(out[:, start : c + 1], (c - start) * s + 1), cache
                )
                logits = self.slot_logits(h[:, -1], 0)
            for slot in range(s):
                out[:, c, slot] = pick(logits)
                last = c == columns - 1 and slot == s - 1
                if last or (slot == s - 1 and self._window_start(c + 1, start) != start):
                    continue
                col, target = divmod((c - start) * s + slot + 1, s)  # next token, in window
                level = self._slot_levels[slot]
                x = F.embedding(out[:, c, slot] + level * k, self.code_emb.weight)
                x = x + self.above_step(out[:, start + col - 1, target] if col else None, target)
                x = x + self.column_emb.weight[col] + self.slot_emb.weight[target]
                if fim:  # the in-order segment's embedding (none without FIM training)
                    x = x + segment
                h = self.transformer.step(x[:, None], cache)
                logits = self.slot_logits(h[:, -1], target)
            if progress is not None:
                progress(c + 1)
        return out


def build_prior(order: str = "flat", **kwargs) -> CodePrior:
    """The prior class for ``order`` (flat | depth | masked) with the given constructor
    arguments."""
    from rvqvae.prior.masked import MaskedPrior

    priors: dict[str, type[CodePrior]] = {
        "flat": FlatPrior,
        "depth": DepthPrior,
        "masked": MaskedPrior,
    }
    if order not in priors:
        raise ValueError(f"prior.order must be one of {', '.join(priors)}, got {order!r}")
    return priors[order](**kwargs)
