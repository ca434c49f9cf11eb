"""A masked prior over code grids (``prior.model.order=masked``; MaskGIT, VampNet).

The causal priors (:mod:`rvqvae.prior.model`) read a window left to right, so a range is filled
from its left side only (or, with fill-in-the-middle training, from both sides read first).
:class:`MaskedPrior` is a *bidirectional* transformer over the same flat ``(column, slot)``
tokens: some tokens of a window are hidden (replaced by a learned mask embedding) and it
predicts every hidden token from every visible one, on both sides at once.

- **Training** (:func:`masked_training_nll`): per window, with probability ``SPAN_RATE`` a span
  of whole columns is hidden (an inpainting hole; of those spans ``UPPER_LEVELS_RATE`` hide only
  the levels from a random one up: a variation), else scattered tokens at a rate drawn from
  MaskGIT's cosine schedule. The loss is the cross-entropy of the hidden tokens of the file's own
  columns; padded columns are hidden from attention.
- **Filling** (:func:`masked_fill`): MaskGIT's iterative parallel decoding. Each of ``steps``
  passes draws every hidden token (the sampling settings' picker), keeps the most confident
  draws (log-probability of the drawn code) and hides the rest again, so that
  ``cos(pi/2 * t/steps)`` of them are still hidden after step t; the last step keeps all.
  Two decoding variants: *confidence noise* (MaskGIT's choice temperature: Gumbel noise times
  ``noise`` x the share of passes still to come added to the confidences, so early passes
  keep less greedily) and *coarse first* (VampNet's order: the passes split between the
  levels, each level decoded in its own passes, the lowest first, given the levels below).
- **Generation** (:meth:`MaskedPrior._generate`): a first window filled whole, then windows
  sliding by a quarter of the context, each filling its new columns given the ones before
  (without confidence noise: the picker is its only source of randomness).
- **Validation** (:meth:`MaskedPrior.validation_nll`): each block of ``VALIDATION_BLOCK``
  columns (1.02 s) of a window hidden in turn and scored given the rest of the window. So for
  this order ``val/bits_per_s`` is the NLL of 1 s holes given both sides - the inpainting
  question - not a likelihood of the whole sequence like the causal priors' figure: compare it
  only between masked priors.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.prior.base import CodePrior, Picker, _init_weights, token_cross_entropy
from rvqvae.prior.transformer import Transformer

VALIDATION_BLOCK = 6  # columns hidden together when validation scores a window (1.02 s)
DECODE_STEPS = 12  # parallel decoding passes of one fill (MaskGIT uses 8-12)
SPAN_RATE = 0.5  # training windows with a hidden span of whole columns (else scattered tokens)
UPPER_LEVELS_RATE = 0.3  # of those spans: only the levels from a random one up (variations)


class MaskedPrior(CodePrior):
    """A bidirectional transformer predicting hidden tokens of a window from the visible ones.

    The mask embedding is the shared ``bos`` parameter (the masked prior has no
    beginning-of-sequence token); ``decode_steps`` sets the passes of each fill."""

    order = "masked"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.fim_rate > 0:
            raise ValueError("prior.model.fim_rate > 0 needs prior.model.order=flat")
        hp = self.hparams_dict
        self.code_emb = nn.Embedding(hp["levels"] * self.codebook_size, hp["d_model"])
        self.transformer = Transformer(
            hp["d_model"], hp["n_layers"], hp["n_heads"], hp["dropout"], causal=False
        )
        self.decode_steps = DECODE_STEPS
        self.decode_noise = 0.0  # confidence noise of each fill (0: keep the most likely draws)
        self.decode_coarse_first = False  # decode level by level, the lowest first
        self.apply(_init_weights)

    def inputs(self, columns: Tensor, hidden: Tensor) -> Tensor:
        """``[B, C*S, d]`` for windows ``columns [B, C, S]``: each token's code embedding (the
        mask embedding where ``hidden [B, C, S]``), the same slot's code one column earlier
        where that is visible ("none" otherwise), and the column and slot embeddings."""
        b, c, s = columns.shape
        k = self.codebook_size
        code = self.code_emb(self.slot_level * k + columns)  # [B, C, S, d]
        code = torch.where(hidden[..., None], self.bos, code)
        slots = torch.arange(s, device=columns.device)
        above = torch.where(hidden[:, :-1], s * k, slots * k + columns[:, :-1])  # [B, C-1, S]
        above = torch.cat([torch.full_like(columns[:, :1], s * k), above], dim=1)
        x = code + self.above_emb(above) + self.column_emb.weight[:c, None] + self.slot_emb.weight
        return x.reshape(b, c * s, -1)

    def masked_logits(self, columns: Tensor, hidden: Tensor, valid: Tensor | None = None) -> Tensor:
        """Logits ``[B, C, S, K]`` of every token of ``columns [B, C, S]`` with the ``hidden``
        ones masked; ``valid [B, C]`` (false: padding) hides padded columns from attention."""
        b, c, s = columns.shape
        attn = None
        if valid is not None and not bool(valid.all()):
            attn = valid[:, None, None, :, None].expand(b, 1, 1, c, s).reshape(b, 1, 1, c * s)
        h = self.transformer(self.inputs(columns, hidden), attn_mask=attn)
        slots = torch.arange(c * s, device=columns.device) % s
        return self.level_logits(h, slots).reshape(b, c, s, -1)

    def block_logits(self, columns: Tensor, valid: Tensor | None = None) -> Tensor:
        """Logits ``[B, C, S, K]``, each block of ``VALIDATION_BLOCK`` columns hidden in turn
        and predicted from the rest of its window."""
        c = columns.shape[1]
        parts = []
        for start in range(0, c, VALIDATION_BLOCK):
            hidden = torch.zeros_like(columns, dtype=torch.bool)
            hidden[:, start : start + VALIDATION_BLOCK] = True
            logits = self.masked_logits(columns, hidden, valid)
            parts.append(logits[:, start : start + VALIDATION_BLOCK])
        return torch.cat(parts, dim=1)

    def forward(self, columns: Tensor) -> Tensor:
        """Logits ``[B, C, S, K]`` of each block of a window given the rest (no padding)."""
        return self.block_logits(columns)

    def validation_nll(self, columns: Tensor, mask: Tensor) -> Tensor:
        """NLL ``[B, C, S]`` of each 1 s block given the rest of its window (padding hidden
        from attention by ``mask [B, C]``)."""
        return token_cross_entropy(self.block_logits(columns, mask), columns)

    def _generate(
        self,
        batch: int,
        columns: int,
        pick: Picker,
        prompt: Tensor | None,
        progress: Callable[[int], None] | None,
    ) -> Tensor:
        out, done = self._prompted_output(batch, columns, prompt)
        context, hop = self.context_columns, max(1, self.context_columns // 4)
        while done < columns:
            new = min(columns - done, context if done == 0 else hop)
            start = max(0, done + new - context)
            hidden = torch.zeros(done + new - start, self.slots, dtype=torch.bool)
            hidden[done - start :] = True
            window = out[:, start : done + new]
            out[:, start : done + new] = masked_fill(self, window, hidden, pick, noise=0.0)
            done += new
            if progress is not None:
                progress(done)
        return out


def hide_for_training(
    mask: Tensor, slots: int, slot_level: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Which tokens ``[B, C, S]`` (bool) of a training batch to hide: per window of ``mask
    [B, C]`` (true: the file's own columns) a span of columns (``SPAN_RATE``; some only from a
    random level up) or scattered tokens at a cosine-schedule rate; at least one token."""
    b, c = mask.shape
    levels = int(slot_level.max()) + 1
    level_of = slot_level.cpu()
    hidden = torch.zeros(b, c, slots, dtype=torch.bool)

    def uniform() -> float:
        return float(torch.rand((), generator=generator))

    def integer(low: int, high: int) -> int:  # low .. high - 1
        return int(torch.randint(low, high, (), generator=generator))

    for i, n in enumerate(mask.sum(dim=1).tolist()):
        n = int(n)
        if n == 0:
            continue
        if uniform() < SPAN_RATE:
            width = integer(1, max(1, n // 2) + 1)  # up to half the file's window
            start = integer(0, n - width + 1)
            first_level = integer(1, levels) if levels > 1 and uniform() < UPPER_LEVELS_RATE else 0
            hidden[i, start : start + width] = level_of >= first_level
        else:
            rate = math.cos(math.pi / 2 * uniform())  # MaskGIT's schedule: (0, 1]
            tokens = torch.rand(n, slots, generator=generator) < rate
            if not tokens.any():
                tokens[integer(0, n), integer(0, slots)] = True
            hidden[i, :n] = tokens
    return hidden.to(mask.device)


def masked_training_nll(
    prior: MaskedPrior, columns: Tensor, mask: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """``(nll [B, C, S], weights [B, C, S])`` of a training batch: the NLL of every token with
    :func:`hide_for_training`'s tokens hidden, weighted 1 where a token was hidden in the file's
    own columns and 0 elsewhere."""
    hidden = hide_for_training(mask, prior.slots, prior.slot_level, generator)
    nll = token_cross_entropy(prior.masked_logits(columns, hidden, mask), columns)
    return nll, (hidden & mask[..., None]).float()


def decoding_stages(
    prior: MaskedPrior, hidden: Tensor, steps: int, coarse_first: bool
) -> list[tuple[Tensor, int]]:
    """``[(tokens [C, S] bool, passes)]``: the hidden tokens decoded together and their passes;
    one stage of ``steps`` passes, or with ``coarse_first`` one stage per level that has hidden
    tokens, lowest first, sharing ``steps`` passes (at least one each)."""
    if not coarse_first:
        return [(hidden, steps)]
    level = prior.slot_level.to(hidden.device)  # [S]
    levels = sorted(set(level[hidden.any(dim=0)].tolist()))
    if not levels:
        return [(hidden, steps)]
    base, extra = divmod(max(steps, len(levels)), len(levels))
    return [(hidden & (level == lv), base + (i < extra)) for i, lv in enumerate(levels)]


def sides_log_likelihood(
    prior: MaskedPrior, windows: Tensor, start: int, end: int, width: int
) -> Tensor:
    """Log-likelihood ``[B]`` (nats) of up to ``width`` columns on each side of ``[start, end)``
    of ``windows [B, C, S]``, both sides hidden together and predicted from the rest (the
    range included): how well each row's range agrees with its context (rescoring fills)."""
    b, c, s = windows.shape
    hidden = torch.zeros(c, s, dtype=torch.bool, device=windows.device)
    hidden[max(0, start - width) : start] = True
    hidden[end : end + width] = True
    if not bool(hidden.any()):
        return torch.zeros(b, dtype=torch.float64)
    with torch.inference_mode():
        logits = prior.masked_logits(windows, hidden[None].expand(b, c, s))
        nll = token_cross_entropy(logits, windows)  # [B, C, S]
    return -(nll * hidden).sum(dim=(1, 2)).double().cpu()


def valid_noise(noise: float) -> bool:
    """Whether ``noise`` is a usable confidence-noise scale: finite and >= 0."""
    return math.isfinite(noise) and noise >= 0


def masked_fill(
    prior: MaskedPrior,
    window: Tensor,
    hidden: Tensor,
    pick: Picker,
    steps: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    noise: float | None = None,
    coarse_first: bool | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``window [B, C, S]`` (C <= context) with its ``hidden [C, S]`` tokens drawn by iterative
    parallel decoding in ``steps`` passes (default ``prior.decode_steps``): each pass draws every
    still-hidden token with ``pick`` and keeps the most confident draws, so that a cosine share
    stays hidden (at least one token is kept per pass; the last pass keeps all).
    ``noise`` (default ``prior.decode_noise``) adds Gumbel noise drawn from ``generator`` to the
    confidences, scaled by ``noise`` x the share of the stage's passes still to come;
    ``coarse_first`` (default ``prior.decode_coarse_first``) decodes level by level
    (:func:`decoding_stages`). ``progress(t)`` is called after pass t. Deterministic for the
    picker's generator (and ``generator``)."""
    b, c, s = window.shape
    if c > prior.context_columns:
        raise ValueError(f"a window of {c} columns exceeds the context ({prior.context_columns})")
    steps = int(steps or prior.decode_steps)
    noise = float(prior.decode_noise if noise is None else noise)
    if not valid_noise(noise):
        raise ValueError(f"the confidence noise must be finite and >= 0, got {noise}")
    if noise > 0 and generator is None:
        raise ValueError("confidence noise needs a generator (the fill's seed)")
    coarse = bool(prior.decode_coarse_first if coarse_first is None else coarse_first)
    done = 0
    with torch.inference_mode():
        out = window.clone()
        still = hidden.to(out.device)[None].expand(b, c, s).clone()
        for tokens, passes in decoding_stages(prior, hidden.to(out.device), steps, coarse):
            total = int(tokens.sum())
            for t in range(passes):
                todo = still & tokens  # [B, C, S]: this stage's still-hidden tokens
                n = int(todo[0].sum())  # per row (the same in every row)
                if n == 0:
                    break
                logits = prior.masked_logits(out, still)[todo]  # [B * n, K], row by row
                codes = pick(logits)
                confidence = F.log_softmax(logits.float(), dim=-1).gather(-1, codes[:, None])
                if noise > 0:  # Gumbel(0, 1) = -log(Exp(1))
                    exp = torch.empty(confidence.shape).exponential_(generator=generator)
                    gumbel = -exp.clamp_min(1e-30).log().to(confidence.device)
                    confidence = confidence + noise * (1 - (t + 1) / passes) * gumbel
                share = 0.0 if t == passes - 1 else math.cos(math.pi / 2 * (t + 1) / passes)
                remain = min(math.floor(total * share), n - 1)
                ranked = confidence.view(b, n).argsort(dim=1, descending=True)
                reveal = torch.zeros(b, n, dtype=torch.bool, device=out.device)
                reveal.scatter_(1, ranked[:, : n - remain], True)
                where = todo.nonzero()[reveal.flatten()]  # [revealed, 3]: batch, column, slot
                out[where[:, 0], where[:, 1], where[:, 2]] = codes[reveal.flatten()]
                still[where[:, 0], where[:, 1], where[:, 2]] = False
                done += 1
                if progress is not None:
                    progress(done)
    return out.clone()
