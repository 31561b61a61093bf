#!/usr/bin/env bash
# The held-out evaluation (docs/heldout.md): `edgebench score` on every
# held-out SUMO world of scenarios/heldout/ (and on the presets given in
# HELDOUT_PRESETS), seeds HELDOUT_SEEDS, with the general and the
# default-only shipped checkpoints. One score table per (world, checkpoint)
# in results/heldout/, and results/heldout/summary.md: per world and
# checkpoint the mean of the seeds' s_lookahead, the pooled one (the seeds'
# costs summed first: steadier where greedy and the planner are close), and
# the interruption rates, and the mean gap to the seeds' lower bounds of
# DPPO, milp-lookahead and greedy (how far each is from the best possible).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/edgebench
SEEDS=${HELDOUT_SEEDS:-1,2,3}
OUT=results/heldout
mkdir -p "$OUT"
worlds=(scenarios/heldout/*.toml ${HELDOUT_PRESETS:-})
{
  echo "| world | checkpoint | mean s_lookahead | pooled s_lookahead | interruption dppo % | interruption greedy % | gap to bound dppo % | gap milp-lookahead % | gap greedy % |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
} > "$OUT/summary.md"
for w in "${worlds[@]}"; do
  name=$(basename "$w" .toml)
  for ck in general default; do
    table="$OUT/$name-$ck.md"
    echo "heldout: $name with the $ck checkpoint (seeds $SEEDS)" >&2
    "$BIN" score --scenario "$w" --seeds "$SEEDS" --checkpoint "solvers/checkpoints/$ck.safetensors" > "$table"
    # "mean s (run totals) …; mean s_lookahead X; mean s_common …; interruption dppo A % vs greedy B %"
    line=$(grep '^mean s ' "$table")
    s=$(sed -E 's/.*mean s_lookahead ([^;]+);.*/\1/' <<< "$line")
    read -r a b < <(sed -E 's/.*interruption dppo ([0-9.]+) % vs greedy ([0-9.]+) %.*/\1 \2/' <<< "$line")
    # Table rows: | seed | cost dppo | cost greedy | cost milp | s | cost milp-lookahead | …
    pooled=$(awk -F'|' '$2 ~ /^ [0-9]+ $/ { d += $3; g += $4; l += $7 } END { printf "%.3f", (g - d) / (g - l) }' "$table")
    # "mean gap to the lower bound: dppo X %, milp-lookahead Y %, greedy Z %"
    read -r gd gl gg < <(sed -nE 's/^mean gap to the lower bound: dppo ([0-9.]+) %, milp-lookahead ([0-9.]+) %, greedy ([0-9.]+) %$/\1 \2 \3/p' "$table")
    echo "| $name | $ck | $s | $pooled | $a | $b | $gd | $gl | $gg |" >> "$OUT/summary.md"
  done
done
cat "$OUT/summary.md"
