#!/usr/bin/env bash
# Priors on the VQ-VAEs of 2, 3 and 4 RVQ levels (synth, seeds 0-2), then the comparison report.
# From the repo root: bash experiments/prior_vs_levels/run.sh  (deletes this study's old outputs)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=outputs/multirun/prior_vs_levels
VQ_EPOCHS=${VQ_EPOCHS:-15}
PRIOR_EPOCHS=${PRIOR_EPOCHS:-8}
rm -rf "$OUT"
"$PY" -m rvqvae.train -m hydra/launcher=joblib model.num_quantizers=2,3,4 seed=0,1,2 \
  trainer.max_epochs="$VQ_EPOCHS" callbacks.previews.interval=1000 hydra.sweep.dir="$OUT/vqvae"
runs=$(ls -d "$OUT"/vqvae/[0-9]* | sort -t/ -k5 -n | paste -sd, -)
"$PY" -m rvqvae.train_prior -m hydra/launcher=joblib "vqvae=$runs" prior=small \
  prior.max_epochs="$PRIOR_EPOCHS" hydra.sweep.dir="$OUT/priors"
"$PY" -m rvqvae.report "$OUT/vqvae" "$OUT/priors" --out experiments/prior_vs_levels \
  --title "Priors on 2/3/4-level RVQ-VAEs (synth, seeds 0-2)"
