"""The RQ-Transformer prior (``prior.model.order=depth``): a temporal transformer over code
columns and a small depth transformer over the slots of each column, on the shared
:class:`~rvqvae.prior.base.CodePrior`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.prior.base import CodePrior, Picker, _init_weights
from rvqvae.prior.transformer import Transformer


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
        out, first = self._prompted_output(batch, columns, prompt)
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
