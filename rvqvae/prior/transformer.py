"""Transformer blocks on PyTorch's ``scaled_dot_product_attention``, with a KV cache.

:class:`Transformer` is a stack of pre-norm blocks, causal by default; given a :class:`KVCache`
it runs incrementally: a prefill of any length from an empty cache, then one position per call,
each attending to every cached position (the attention math itself is SDPA's). With
``causal=False`` (the masked prior, :mod:`rvqvae.prior.masked`) every position attends to every
other, except keys an ``attn_mask`` hides (padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class KVCache:
    """Keys and values of every layer, preallocated ``[layers, B, heads, max_len, head_dim]``."""

    def __init__(
        self, layers: int, batch: int, heads: int, max_len: int, head_dim: int, like: Tensor
    ) -> None:
        shape = (layers, batch, heads, max_len, head_dim)
        self.k = like.new_zeros(shape)
        self.v = like.new_zeros(shape)
        self.max_len = max_len
        # per-layer views [B, heads, max_len, head_dim]: one indexing op fewer per update
        self.k_layers, self.v_layers = list(self.k.unbind(0)), list(self.v.unbind(0))
        self.length = 0

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store ``[B, heads, t, head_dim]`` after the cached positions; return all of them."""
        t = k.shape[2]
        end = self.length + t
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions, {end} requested")
        keys, values = self.k_layers[layer], self.v_layers[layer]
        keys.narrow(2, self.length, t).copy_(k)  # narrow: no Python index parsing per token
        values.narrow(2, self.length, t).copy_(v)
        return keys.narrow(2, 0, end), values.narrow(2, 0, end)

    def advance(self, t: int) -> None:
        self.length += t

    def reset(self) -> None:
        self.length = 0


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention (SDPA) and a GELU MLP.

    ``dropout`` applies to the attention and MLP outputs, not to the attention weights: dropout
    inside SDPA sends it to its unfused path, which made a training step of the default prior
    2.3x slower on 2 CPU cores (benchmarks/prior.py).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float, causal: bool = True) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.causal = causal
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        attn_mask: Tensor | None = None,
    ) -> Tensor:
        """``x [B, t, d]``; ``attn_mask [B, 1, 1, t]`` (bool, true = attend) hides keys of a
        non-causal block (padding)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        causal = self.causal
        if cache is not None:
            if cache.length and t > 1:
                raise ValueError("a cached forward takes one position at a time after the prefill")
            causal = causal and cache.length == 0
            k, v = cache.update(layer, k, v)
        if attn_mask is not None and causal:
            raise ValueError("attn_mask is for non-causal blocks (causal=False)")
        y = F.scaled_dot_product_attention(  # [B, heads, t, hd]
            q, k, v, attn_mask=attn_mask, is_causal=causal and t > 1
        )
        x = x + self.drop(self.out(y.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp(self.norm2(x)))

    def _step_tensors(self) -> tuple:
        """The parameters :meth:`step` reads, gathered once per sampling run (module attribute
        lookups were a measurable part of a position's time at batch 1); a new cache
        (:meth:`Transformer.new_cache`) forgets them, so each run reads the current modules."""
        bound = self.__dict__.get("_bound_tensors")
        if bound is None:
            n1, n2, up, down = self.norm1, self.norm2, self.mlp[0], self.mlp[2]
            bound = (
                *(n1.normalized_shape, n1.weight, n1.bias, n1.eps),
                *(self.qkv.weight, self.qkv.bias, self.out.weight, self.out.bias),
                *(n2.normalized_shape, n2.weight, n2.bias, n2.eps),
                *(up.weight, up.bias, down.weight, down.bias),
            )
            self.__dict__["_bound_tensors"] = bound  # not a module attribute: no state_dict entry
        return bound

    def step(self, x: Tensor, cache: KVCache, layer: int) -> Tensor:
        """:meth:`forward` of one position ``[B, 1, d]`` after a prefill, in eval mode: the same
        operations in the same order (so the same numbers), without the module calls and the
        (inactive) dropouts that made up much of a sampling step's time at batch 1."""
        (s1, w1, b1, e1, qkv_w, qkv_b, out_w, out_b, s2, w2, b2, e2, up_w, up_b, down_w, down_b) = (
            self._step_tensors()
        )
        b, _, d = x.shape
        h = F.layer_norm(x, s1, w1, b1, e1)
        # one position: [B, 1, 3d] is [B, 3, heads, 1, hd] in memory, so q, k, v are views
        q, k, v = F.linear(h, qkv_w, qkv_b).view(b, 3, self.n_heads, 1, -1).unbind(1)
        k, v = cache.update(layer, k, v)
        y = F.scaled_dot_product_attention(q, k, v)  # [B, heads, 1, hd]: (heads, hd) per row
        x = x + F.linear(y.reshape(b, 1, d), out_w, out_b)
        h = F.layer_norm(x, s2, w2, b2, e2)
        return x + F.linear(F.gelu(F.linear(h, up_w, up_b)), down_w, down_b)


class Transformer(nn.Module):
    """A stack of :class:`Block` with a final LayerNorm; ``cache`` makes it incremental;
    ``causal=False`` lets every position attend to every other."""

    def __init__(
        self, d_model: int, n_layers: int, n_heads: int, dropout: float, causal: bool = True
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, dropout, causal) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads

    def new_cache(self, batch: int, max_len: int, like: Tensor) -> KVCache:
        """An empty cache for one sampling run (and a fresh gathering of each block's step
        parameters, :meth:`Block._step_tensors`)."""
        for block in self.blocks:
            block.__dict__.pop("_bound_tensors", None)
        return KVCache(len(self.blocks), batch, self.n_heads, max_len, self.head_dim, like)

    def step(self, x: Tensor, cache: KVCache) -> Tensor:
        """One position ``[B, 1, d]`` after a prefill of ``cache``: :meth:`forward`'s numbers
        (eval mode: dropout off), via :meth:`Block.step` (falls back to :meth:`forward` in
        training mode or under autograd)."""
        if self.training or torch.is_grad_enabled() or not cache.length:
            return self(x, cache)
        for i, block in enumerate(self.blocks):
            x = block.step(x, cache, i)
        cache.advance(1)
        norm = self.norm
        return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)

    def forward(
        self, x: Tensor, cache: KVCache | None = None, attn_mask: Tensor | None = None
    ) -> Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i, attn_mask)
        if cache is not None:
            cache.advance(x.shape[1])
        return self.norm(x)
