#!/usr/bin/env bash
# Quality per bit, second look: quantizer options and losses at equal bit/s (3 levels x 128 codes) on the
# default synth run (60 epochs), 3 seeds each, two runs side by side on one torch thread each.
# From the repo root: bash experiments/quality_per_bit/run.sh [NAME ...] (only those options; all by
# default, seeds 1-3 each, or SEEDS="2 3"; a finished run is not run again); then
# .venv/bin/python experiments/quality_per_bit/collect.py   (-> results_seeds.json + a table)
set -euo pipefail
cd "$(dirname "$0")/../.."
# every run pins its loss: the study measured against l1, the default until it chose multires_l1
OPTIONS=(
  "base|module.recon_loss=l1"
  "cos|module.recon_loss=l1 model.use_cosine_sim=true"
  "norot|module.recon_loss=l1 model.rotation_trick=false"
  "proj16|module.recon_loss=l1 model.codebook_projection_dim=16"
  "multires|module.recon_loss=multires_l1"
  "l1lin|module.recon_loss=l1_linear"
  "res1|module.recon_loss=l1 model.residual_blocks=1"
  "multiresref|module.recon_loss=multires_l1"
  "adv|module.recon_loss=multires_l1 module.adversarial.enabled=true"
  "adv03|module.recon_loss=multires_l1 module.adversarial.enabled=true module.adversarial.weight=0.03"
  "mres1|module.recon_loss=multires_l1 model.residual_blocks=1"
)
if [ $# -gt 0 ]; then
  chosen=()
  for cfg in "${OPTIONS[@]}"; do
    for name in "$@"; do [ "${cfg%%|*}" = "$name" ] && chosen+=("$cfg"); done
  done
  OPTIONS=("${chosen[@]}")
fi
jobs_list=()
for seed in ${SEEDS:-1 2 3}; do
  for cfg in "${OPTIONS[@]}"; do jobs_list+=("${cfg}|${seed}"); done
done
run_one() {
  IFS='|' read -r name ov seed <<<"$1"
  dir=outputs/runs/qpb2_${name}_s${seed}
  [ -f "$dir/summary.json" ] && grep -q '"status": "completed"' "$dir/summary.json" && return 0
  .venv/bin/python -m rvqvae.train logger=none num_threads=1 seed="$seed" \
    callbacks.previews.interval=1000 $ov hydra.run.dir="$dir" >"${dir}.log" 2>&1 || echo "failed: $dir"
}
export -f run_one
printf '%s\n' "${jobs_list[@]}" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {}
