#!/usr/bin/env bash
# The default-loss change (module.recon_loss=multires_l1, chosen on synth) on the real-audio dev
# set: the best mixed recipe (dropout 0, a cosine over 17 epochs cut by the 6-minute clock) with
# the former default l1 and with multires_l1, side by side on one torch thread each.
# From the repo root, after `.venv/bin/python benchmarks/realaudio.py build`:
#   bash experiments/realaudio_recipe/run_loss.sh
#   .venv/bin/python benchmarks/realaudio_eval.py outputs/runs/rl_* --visqol 4 \
#       --out experiments/realaudio_recipe/loss.json
set -euo pipefail
cd "$(dirname "$0")/../.."
REAL=${REAL:-$HOME/.cache/rvqvae/realaudio}
mkdir -p outputs/runs
for loss in l1 multires_l1; do
  .venv/bin/python -m rvqvae.train dataset=folder "dataset.path=$REAL" \
    trainer.max_time=00:00:06:00 num_threads=1 logger=none callbacks.previews.interval=1000 \
    scheduler=cosine trainer.max_epochs=17 model.dropout=0.0 module.recon_loss=$loss \
    hydra.run.dir="outputs/runs/rl_$loss" >"outputs/runs/rl_$loss.log" 2>&1 &
done
wait
