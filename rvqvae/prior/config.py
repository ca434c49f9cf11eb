"""Prior sizes: the one home of the prior's tier numbers (pure Python, no torch).

Like the RVQ-VAE's codebook tiers (:mod:`rvqvae.training.config`), the prior's size follows the
number of files the VQ-VAE was trained on: a small dataset gives few code sequences, and a big
transformer would only memorise them. ``conf/prior/auto.yaml`` reads these values through the
``${rvqvae.prior:KEY,FILE_COUNT,SIZE}`` resolver; ``prior=small|medium|large`` forces a size.

=========  =======  =========  ======  =====  =======  =======  ======  =====
size       files    d_model    layers  heads  dropout  epochs   lr      batch
=========  =======  =========  ======  =====  =======  =======  ======  =====
small      <= 20    128        3       4      0.3      40       1e-3    16
medium     <= 100   192        4       4      0.2      10       1e-3    16
large      > 100    256        6       8      0.1      60       6e-4    32
=========  =======  =========  ======  =====  =======  =======  ======  =====

Every size: flat token order, 32 columns of context (5.5 s at 48 kHz / hop 512), weight decay
0.05, 100 warm-up steps, cosine decay. A masked prior (``prior.model.order=masked``) trains
``MASKED_EPOCH_FACTOR`` (6) times the size's epochs: it learns a token only while the token is
hidden. On the default run (medium size) the windowed FD of its 1 s inpainting fills was 61.2
after 10 epochs and 22.3 after 30 (copy of the neighbouring second: 18.7); on a later run, 15.2
after 60 (copy 16.7), the first prior fill to beat the copy (experiments/code_editing). The
factor was measured at the medium size only.

Chosen by measurement on the default synth run (96 files -> medium, 2 CPU cores): in 10 epochs
the flat prior reached 639 val bit/s (0.78 x the unigram baseline's 821) in 237 s, the depth
(RQ-Transformer) prior 777 bit/s (0.95 x) in 129 s, and the flat prior was already at 673 bit/s
after the same 115 s: flat is better at equal time and at equal epochs.

Windows within files (``dataset.windows=within_files``, 2026-12-06, same machine, default run
of that day): a synth file is 2-4 s (12-23 columns), so a 32-column window of files laid end
to end held ~1.9 files and a file boundary almost always; cut within files, each window is one
file from its start, padded and masked, and a batch is cut after its longest file (1.2 s a step
instead of ~2.2). An epoch then covers every training column ~4 times in 20 steps instead of
11, so the 10 medium epochs are 200 steps in 260 s of training (4 min 35 s wall): 618 val bit/s
(0.736 x unigram 840) against 649 (0.772 x) for 110 steps across files. Sampling with
``top_p=0.95`` (evaluation default) was chosen from a sweep of temperature 0.7-1.0, top-k 50 and
top-p 0.9-0.95 over 3 sampling seeds (see the README's prior section for the figures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

ORDERS = ("flat", "depth", "masked")
MASKED_EPOCH_FACTOR = 6  # a masked prior's epochs, in multiples of the size's (module docstring)
SLOT_ORDERS = ("level_major", "row_major")


@dataclass(frozen=True)
class PriorConfig:
    """Prior architecture and training recipe (see the module table)."""

    size: str = "medium"
    order: str = "flat"  # flat: one sequence over (column, slot); depth: RQ-Transformer style;
    # masked: bidirectional, for filling ranges from both sides (rvqvae/prior/masked.py)
    slot_order: str = "level_major"  # token order inside a column
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    depth_layers: int = 2  # layers of the per-column depth transformer (order=depth)
    dropout: float = 0.2
    context_columns: int = 32
    max_epochs: int = 10
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    batch_size: int = 16

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRIOR_TIERS: dict[str, dict[str, Any]] = {
    "small": {"d_model": 128, "n_layers": 3, "n_heads": 4, "dropout": 0.3, "max_epochs": 40},
    "medium": {"d_model": 192, "n_layers": 4, "n_heads": 4, "dropout": 0.2, "max_epochs": 10},
    "large": {
        "d_model": 256,
        "n_layers": 6,
        "n_heads": 8,
        "dropout": 0.1,
        "max_epochs": 60,
        "learning_rate": 6e-4,
        "batch_size": 32,
    },
}
PRIOR_SIZES = ("auto", *PRIOR_TIERS)


def prior_size_for(file_count: int) -> str:
    """The size the file count calls for: small (<= 20), medium (<= 100) or large."""
    if isinstance(file_count, bool) or not isinstance(file_count, int) or file_count < 1:
        raise ValueError(f"file_count must be a positive integer, got {file_count!r}")
    if file_count <= 20:
        return "small"
    return "medium" if file_count <= 100 else "large"


def get_prior_config(file_count: int, size: str = "auto", order: str = "flat") -> PriorConfig:
    """Prior config for ``file_count`` VQ-VAE files; ``size`` forces a named size; ``order``
    the token order (a masked prior trains ``MASKED_EPOCH_FACTOR`` times the epochs)."""
    if size not in PRIOR_SIZES:
        raise ValueError(f"prior size must be one of {', '.join(PRIOR_SIZES)}, got {size!r}")
    if order not in ORDERS:
        raise ValueError(f"prior.model.order must be one of {', '.join(ORDERS)}, got {order!r}")
    name = prior_size_for(file_count) if size == "auto" else size
    cfg = replace(PriorConfig(), size=name, order=order, **PRIOR_TIERS[name])
    if order == "masked":
        cfg = replace(cfg, max_epochs=cfg.max_epochs * MASKED_EPOCH_FACTOR)
    return cfg
