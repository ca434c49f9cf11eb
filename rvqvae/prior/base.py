"""The shared part of the priors over RVQ code grids (:mod:`rvqvae.prior.model` has the flat
prior and :func:`~rvqvae.prior.model.build_prior`, :mod:`rvqvae.prior.depth` the RQ-Transformer):
:class:`CodePrior` holds the layout, the column/slot/"above" embeddings, the per-level output
head, the teacher-forced NLL and the sliding-window bookkeeping of generation."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rvqvae.prior.layout import GridLayout

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
        return token_cross_entropy(self(columns), columns)

    def validation_nll(self, columns: Tensor, mask: Tensor) -> Tensor:
        """The NLL ``[B, C, S]`` validation sums: :meth:`token_nll` (the masked prior scores
        hidden blocks instead, :mod:`rvqvae.prior.masked`)."""
        return self.token_nll(columns)

    def level_nll(self, columns: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Summed NLL (nats) and token counts per level ``([Q], [Q])`` of the columns of
        windows ``[B, C, S]`` where ``mask [B, C]`` is true."""
        nll = self.validation_nll(columns, mask).double()
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

    def _prompted_output(
        self, batch: int, columns: int, prompt: Tensor | None
    ) -> tuple[Tensor, int]:
        """The codes ``[batch, columns, S]`` :meth:`_generate` fills, with ``prompt``'s columns
        in place, and the first column to draw."""
        out = torch.zeros(batch, columns, self.slots, dtype=torch.long, device=self.bos.device)
        first = 0 if prompt is None else prompt.shape[1]
        if first:
            out[:, :first] = prompt
        return out, first

    def _window_start(self, column: int, start: int) -> int:
        """Start of the window that predicts ``column`` (slides by a quarter of the context)."""
        if column - start < self.context_columns:
            return start
        keep = self.context_columns - max(1, self.context_columns // 4)
        return column - keep


def token_cross_entropy(logits: Tensor, columns: Tensor) -> Tensor:
    """NLL (nats) ``[B, C, S]`` of the codes ``columns [B, C, S]`` under ``logits [B, C, S, K]``."""
    nll = F.cross_entropy(logits.flatten(0, 2).float(), columns.flatten(), reduction="none")
    return nll.view_as(columns)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
