"""Export-safe prior: one sampling step of :class:`FlatPrior` with its KV cache as inputs and
outputs, so a host program can generate.

Step ``n`` of a window (``n`` = flat position ``column * S + slot``, ``S = rows * levels``)
takes the previous token's code (ignored at ``n = 0``, where the prior reads its BOS), the code
of the same slot one column earlier (``-1`` in the window's first column), ``position = n`` and
the cache ``[layers, B, heads, n, head_dim]`` of keys and values; it returns the logits of slot
``n % S`` and the cache grown by one position. The host samples a code from the logits, and
restarts the window (empty cache, ``position = 0``) as :meth:`FlatPrior.generate` does when the
context is full. Attention is written out (softmax of scaled dot products over every cached
position), equal to the library's SDPA within float rounding; tests check the chained steps
equal the teacher-forced logits of :meth:`FlatPrior.forward`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from rvqvae.export import ExportError
from rvqvae.prior.model import CodePrior, FlatPrior
from rvqvae.prior.transformer import Block


def _attend(block: Block, h: Tensor, past_k: Tensor, past_v: Tensor) -> tuple[Tensor, ...]:
    """One position ``h [B, 1, d]`` through ``block`` with cached keys/values ``[B, H, P, hd]``."""
    b, _, d = h.shape
    heads = block.n_heads
    q, k, v = block.qkv(block.norm1(h)).view(b, 1, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    keys = torch.cat([past_k, k], dim=2)
    values = torch.cat([past_v, v], dim=2)
    weights = torch.softmax(torch.matmul(q, keys.transpose(2, 3)) / math.sqrt(d // heads), -1)
    y = torch.matmul(weights, values)  # [B, H, 1, hd]
    h = h + block.out(y.transpose(1, 2).reshape(b, 1, d))
    return h + block.mlp(block.norm2(h)), keys, values


class PriorStepGraph(nn.Module):
    """``(token [B], above [B], position [], past_keys, past_values) -> (logits [B, K],
    present_keys, present_values)``; caches are ``[layers, B, heads, P, head_dim]``."""

    def __init__(self, prior: CodePrior) -> None:
        super().__init__()
        if not isinstance(prior, FlatPrior):
            raise ExportError(
                f"order={prior.order}: only the flat prior's sampling step is exported (the "
                "depth prior runs two transformers per column, the masked prior decodes whole "
                "windows in parallel passes)"
            )
        self.prior = prior
        self.slots = prior.slots
        self.codebook_size = prior.codebook_size

    def forward(
        self, token: Tensor, above: Tensor, position: Tensor, past_keys: Tensor, past_values: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        p, s, k = self.prior, self.slots, self.codebook_size
        column, slot = position // s, position % s
        previous_level = p.slot_level[(position + s - 1) % s]
        content = p.code_emb(previous_level * k + token.clamp(min=0))  # [B, d]
        content = torch.where(position == 0, p.bos.expand_as(content), content)
        above_index = torch.where(above < 0, torch.full_like(above, s * k), slot * k + above)
        x = content + p.above_emb(above_index) + p.column_emb(column) + p.slot_emb(slot)
        x = x + p.in_order_segment()  # fill-in-the-middle's prefix segment (FIM priors)
        h = x[:, None]  # [B, 1, d]
        keys, values = [], []
        for i, block in enumerate(p.transformer.blocks):
            h, kk, vv = _attend(block, h, past_keys[i], past_values[i])
            keys.append(kk)
            values.append(vv)
        h = p.transformer.norm(h)[:, 0]
        logits = p.head(h).reshape(h.shape[0], -1, k)  # [B, levels, K]
        level = p.slot_level[slot]
        return logits[:, level], torch.stack(keys), torch.stack(values)

    def empty_cache(self, batch: int) -> Tensor:
        """A cache with no position ``[layers, B, heads, 0, head_dim]``."""
        t = self.prior.transformer
        return self.prior.bos.new_zeros(len(t.blocks), batch, t.n_heads, 0, t.head_dim)


def teacher_forced_steps(
    step: Callable[..., tuple[Tensor, ...]], window: Tensor, empty: Tensor
) -> Tensor:
    """Logits ``[B, C, S, K]`` of a window ``[B, C, S]`` computed step by step with ``step``
    (a :class:`PriorStepGraph` or anything called the same way), feeding the true codes."""
    b, c, s = window.shape
    keys = values = empty
    out = []
    flat = window.reshape(b, c * s)
    for n in range(c * s):
        column, slot = divmod(n, s)
        token = flat[:, n - 1] if n else torch.zeros_like(flat[:, 0])
        above = window[:, column - 1, slot] if column else torch.full_like(flat[:, 0], -1)
        logits, keys, values = step(token, above, torch.tensor(n), keys, values)
        out.append(logits)
    return torch.stack(out, dim=1).reshape(b, c, s, -1)
