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
- :class:`DepthPrior` (``order=depth``, RQ-Transformer): a temporal transformer over columns
  (each column summarised by the sum of slot-specific code embeddings) and a small depth
  transformer over the ``S`` slots of a column, conditioned on the temporal output.

Attention is PyTorch's ``scaled_dot_product_attention``; :class:`KVCache` holds keys and values
for sampling, so each new token costs one position, not the whole window.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.prior.layout import GridLayout
from rvqvae.prior.transformer import Transformer

Picker = Callable[[Tensor], Tensor]  # logits [B, K] -> codes [B]


class CodePrior(nn.Module):
    """Shared parts: layout, embeddings of columns and slots, per-level output head."""

    order = "base"

    def __init__(
        self,
        rows: int,
        levels: int,
        codebook_size: int,
        slot_order: str = "level_major",
        d_model: int = 192,
        n_layers: int = 4,
        n_heads: int = 4,
        depth_layers: int = 2,
        dropout: float = 0.2,
        context_columns: int = 32,
        fim_rate: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("rows", rows),
            ("levels", levels),
            ("codebook_size", codebook_size),
            ("d_model", d_model),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
            ("context_columns", context_columns),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"prior.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"prior.dropout must be in [0, 1), got {dropout!r}")
        if (
            isinstance(fim_rate, bool)
            or not isinstance(fim_rate, int | float)
            or not (0.0 <= fim_rate <= 1.0)
        ):
            raise ValueError(f"prior.model.fim_rate must be in [0, 1], got {fim_rate!r}")
        self.layout = GridLayout(rows, levels, codebook_size, slot_order)
        self.hparams_dict = {
            "order": self.order,
            "rows": rows,
            "levels": levels,
            "codebook_size": codebook_size,
            "slot_order": slot_order,
            "d_model": d_model,
            "n_layers": n_layers,
            "n_heads": n_heads,
            "depth_layers": depth_layers,
            "dropout": dropout,
            "context_columns": context_columns,
            "fim_rate": float(fim_rate),
        }
        self.context_columns = context_columns
        self.fim_rate = float(fim_rate)
        self.slots = self.layout.slots
        self.codebook_size = codebook_size
        self.register_buffer("slot_level", self.layout.slot_level(), persistent=False)
        self._slot_levels: list[int] = self.layout.slot_level().tolist()
        self.column_emb = nn.Embedding(context_columns, d_model)
        self.slot_emb = nn.Embedding(self.slots, d_model)
        # the code of the same slot one column earlier (index S*K: none, at a window's start)
        self.above_emb = nn.Embedding(self.slots * codebook_size + 1, d_model)
        self.bos = nn.Parameter(torch.zeros(d_model))
        self.head = nn.Linear(d_model, levels * codebook_size)
        self.apply(_init_weights)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def level_logits(self, h: Tensor, slots: Tensor) -> Tensor:
        """Hidden ``[..., d]`` predicting slots ``[...]`` -> logits ``[..., K]`` of their level."""
        k = self.codebook_size
        logits = self.head(h).unflatten(-1, (-1, k))  # [..., Q, K]
        level = self.slot_level[slots].expand(h.shape[:-1])
        return logits.gather(-2, level[..., None, None].expand(*level.shape, 1, k)).squeeze(-2)

    def above_inputs(self, window: Tensor) -> Tensor:
        """``[B, Cw, S, d]``: for every slot of ``window [B, Cw, S]`` the embedding of the same
        slot's code one column earlier (a "none" embedding in the window's first column)."""
        k = self.codebook_size
        slots = torch.arange(self.slots, device=window.device)
        index = slots * k + window[:, :-1]  # [B, Cw-1, S]
        none = torch.full_like(window[:, :1], self.slots * k)
        return self.above_emb(torch.cat([none, index], dim=1))

    def above_step(self, codes: Tensor | None, slot: int) -> Tensor:
        """``[B, d]`` (or ``[d]`` for none): :meth:`above_inputs` of one slot."""
        k = self.codebook_size
        if codes is None:
            return self.above_emb.weight[self.slots * k]
        return F.embedding(codes + slot * k, self.above_emb.weight)

    def slot_logits(self, h: Tensor, slot: int) -> Tensor:
        """Hidden ``[B, d]`` -> logits ``[B, K]`` of ``slot``'s level (one sampling step)."""
        k, level = self.codebook_size, self._slot_levels[slot]
        rows = slice(level * k, (level + 1) * k)
        return F.linear(h, self.head.weight[rows], self.head.bias[rows])

    def forward(self, columns: Tensor) -> Tensor:
        """Teacher-forced logits ``[B, C, S, K]`` for a window ``[B, C, S]`` (C <= context)."""
        raise NotImplementedError

    def token_nll(self, columns: Tensor) -> Tensor:
        """Negative log-likelihood (nats) of every token of windows ``[B, C, S]``: ``[B, C, S]``."""
        logits = self(columns)  # [B, C, S, K]
        nll = F.cross_entropy(logits.flatten(0, 2).float(), columns.flatten(), reduction="none")
        return nll.view_as(columns)

    def level_nll(self, columns: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Summed NLL (nats) and token counts per level ``([Q], [Q])`` of the columns of
        windows ``[B, C, S]`` where ``mask [B, C]`` is true."""
        nll = self.token_nll(columns).double()
        scored = mask[..., None].expand_as(nll).double()
        per_slot, tokens = (nll * scored).sum(dim=(0, 1)), scored.sum(dim=(0, 1))  # [S]
        zeros = torch.zeros(self.layout.levels, dtype=torch.float64, device=nll.device)
        return (
            zeros.index_add(0, self.slot_level, per_slot),
            zeros.index_add(0, self.slot_level, tokens),
        )

    def generate(
        self,
        batch: int,
        columns: int,
        pick: Picker,
        prompt: Tensor | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Tensor:
        """Sample ``[batch, columns, S]`` codes; ``prompt`` ``[batch, P, S]`` fixes the first P
        columns. ``progress(n)`` is called after each column.

        Runs under ``torch.inference_mode`` (no autograd bookkeeping per small operation: 1.08-
        1.12 x the rate of ``no_grad`` at batch 1, ``benchmarks/prior.py``) and returns an
        ordinary tensor, which callers may edit in place."""
        with torch.inference_mode():
            out = self._generate(batch, columns, pick, prompt, progress)
        return out.clone()

    def _generate(
        self,
        batch: int,
        columns: int,
        pick: Picker,
        prompt: Tensor | None,
        progress: Callable[[int], None] | None,
    ) -> Tensor:
        raise NotImplementedError

    def _window_start(self, column: int, start: int) -> int:
        """Start of the window that predicts ``column`` (slides by a quarter of the context)."""
        if column - start < self.context_columns:
            return start
        keep = self.context_columns - max(1, self.context_columns // 4)
        return column - keep


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


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
        out = torch.zeros(batch, columns, s, dtype=torch.long, device=self.bos.device)
        first = 0 if prompt is None else prompt.shape[1]
        if first:
            out[:, :first] = prompt
        cache = self.transformer.new_cache(batch, self.context_columns * s, self.bos)
        start, logits, segment = -1, None, self.in_order_segment()
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
                x = x + self.column_emb.weight[col] + self.slot_emb.weight[target] + segment
                h = self.transformer.step(x[:, None], cache)
                logits = self.slot_logits(h[:, -1], target)
            if progress is not None:
                progress(c + 1)
        return out


class DepthPrior(CodePrior):
    """RQ-Transformer: temporal transformer over columns, depth transformer over slots."""

    order = "depth"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        hp = self.hparams_dict
        if self.fim_rate > 0:
            raise ValueError("prior.model.fim_rate > 0 needs prior.model.order=flat")
        d = hp["d_model"]
        self.column_code_emb = nn.Embedding(self.slots * self.codebook_size, d)  # slot-specific
        self.code_emb = nn.Embedding(hp["levels"] * self.codebook_size, d)
        self.temporal = Transformer(d, hp["n_layers"], hp["n_heads"], hp["dropout"])
        self.depth = Transformer(d, max(1, hp["depth_layers"]), hp["n_heads"], hp["dropout"])
        self.apply(_init_weights)

    def _column_inputs(self, columns: Tensor, first_is_bos: bool, offset: int) -> Tensor:
        """Temporal inputs: BOS then the summary of each previous column, + column embedding."""
        b = columns.shape[0]
        slots = torch.arange(self.slots, device=columns.device)
        summary = self.column_code_emb(slots * self.codebook_size + columns).sum(dim=2)
        if first_is_bos:
            summary = torch.cat([self.bos.expand(b, 1, -1), summary], dim=1)
        cols = torch.arange(offset, offset + summary.shape[1], device=columns.device)
        return summary + self.column_emb(cols)

    def forward(self, columns: Tensor) -> Tensor:
        b, c, s = columns.shape
        context = self.temporal(self._column_inputs(columns[:, :-1], True, 0))  # [B, C, d]
        slots = torch.arange(s, device=columns.device)
        previous = self.code_emb(
            self.slot_level[slots[:-1]] * self.codebook_size + columns[..., :-1]
        )
        previous = torch.cat([torch.zeros_like(previous[..., :1, :]), previous], dim=2)
        x = context[:, :, None] + previous + self.above_inputs(columns) + self.slot_emb(slots)
        h = self.depth(x.reshape(b * c, s, -1))  # [B*C, S, d]
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
        out = torch.zeros(batch, columns, s, dtype=torch.long, device=self.bos.device)
        first = 0 if prompt is None else prompt.shape[1]
        if first:
            out[:, :first] = prompt
        cache = self.temporal.new_cache(batch, self.context_columns, self.bos)
        depth_cache = self.depth.new_cache(batch, s, self.bos)
        start = -1
        for c in range(first, columns):
            window = self._window_start(c, max(start, 0))
            if window != start:
                start = window
                cache.reset()
                inputs = self._column_inputs(out[:, start:c], True, 0)
            else:
                inputs = self._column_inputs(out[:, c - 1 : c], False, c - start)
            if inputs.shape[1] == 1 and cache.length:  # one column after the prefill
                context = self.temporal.step(inputs, cache)[:, -1]  # [B, d]
            else:
                context = self.temporal(inputs, cache)[:, -1]
            above = self.above_inputs(out[:, c - 1 : c + 1] if c > start else out[:, c : c + 1])
            above = above[:, -1]  # [B, S, d]: the previous column's codes (none at window start)
            depth_cache.reset()
            h = self.depth((context + above[:, 0] + self.slot_emb.weight[0])[:, None], depth_cache)
            for slot in range(s):
                out[:, c, slot] = pick(self.slot_logits(h[:, -1], slot))
                if slot < s - 1:
                    level = self._slot_levels[slot]
                    code = F.embedding(out[:, c, slot] + level * k, self.code_emb.weight)
                    x = context + code + above[:, slot + 1] + self.slot_emb.weight[slot + 1]
                    h = self.depth.step(x[:, None], depth_cache)
            if progress is not None:
                progress(c + 1)
        return out


PRIORS: dict[str, type[CodePrior]] = {"flat": FlatPrior, "depth": DepthPrior}


def build_prior(order: str = "flat", **kwargs) -> CodePrior:
    """The prior class for ``order`` (flat | depth) with the given constructor arguments."""
    if order not in PRIORS:
        raise ValueError(f"prior.order must be one of {', '.join(PRIORS)}, got {order!r}")
    return PRIORS[order](**kwargs)
