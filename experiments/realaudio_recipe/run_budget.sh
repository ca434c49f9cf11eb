#!/usr/bin/env bash
# A schedule fitted to the time budget (scheduler=cosine_time) against the tier recipe and a
# cosine fitted to a guessed epoch count, on the real-audio dev set: 6 minutes of training each,
# two runs side by side on one torch thread each (the pairs compare under the same load).
# From the repo root, after `.venv/bin/python benchmarks/realaudio.py build`:
#   bash experiments/realaudio_recipe/run_budget.sh
#   .venv/bin/python benchmarks/realaudio_eval.py outputs/runs/rb_* --visqol 4 \
#       --out experiments/realaudio_recipe/budget.json
set -euo pipefail
cd "$(dirname "$0")/../.."
REAL=${REAL:-$HOME/.cache/rvqvae/realaudio}
common=(dataset=folder "dataset.path=$REAL" trainer.max_time=00:00:06:00 num_threads=1 module.recon_loss=l1
        logger=none callbacks.previews.interval=1000)
train() {
  local name=$1; shift
  .venv/bin/python -m rvqvae.train "${common[@]}" "$@" hydra.run.dir="outputs/runs/rb_$name" \
    >"outputs/runs/rb_$name.log" 2>&1 || echo "failed: rb_$name"
}
mkdir -p outputs/runs
# pair 1: what a folder of this size gets by default, and the same with the decay fitted to time
train tier & train tier_cosine_time scheduler=cosine_time & wait
# pair 2: the synth preset's dropout 0 with the time-fitted decay, and with a cosine over 17
# epochs (what fitted 6 minutes on 2 threads in an earlier session)
train d0_cosine_time scheduler=cosine_time model.dropout=0.0 &
train d0_cosine17 scheduler=cosine trainer.max_epochs=17 model.dropout=0.0 & wait
