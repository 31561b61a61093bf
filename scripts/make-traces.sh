#!/usr/bin/env bash
# Generates the project's sample mobility traces with SUMO (eclipse-sumo from
# PyPI, installed into .venv): a street grid from netgenerate, random vehicle
# and pedestrian trips, `sumo --fcd-output`, then `edgebench trace import` into
# scenarios/data/traces/*.csv.gz (small; committed; used by presets and tests).
# Deterministic: every tool is seeded.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x .venv/bin/sumo ] || .venv/bin/pip install -q --disable-pip-version-check eclipse-sumo==1.28.0
SUMO_HOME=$(.venv/bin/python -c "import sumo; print(sumo.SUMO_HOME)")
export SUMO_HOME PATH="$PWD/.venv/bin:$PATH"
BIN=target/release/edgebench
[ -x "$BIN" ] || cargo build --release --locked -p harness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OUT=scenarios/data/traces
mkdir -p "$OUT"
# The training traces' seeds (network, vehicles, pedestrians); the held-out ones must differ.
NET_SEED=1 VEH_SEED=11 PED_SEED=12

# A 7 x 7 street grid with 150 m blocks (900 m square), sidewalks for pedestrians.
netgenerate --grid --grid.number 7 --grid.length 150 --default.lanenumber 1 --sidewalks.guess \
  --seed $NET_SEED --no-turnarounds false -o "$work/grid.net.xml" >/dev/null

# Vehicles: a trip every 4 s for 900 s, simulated for 600 s after a 300 s warm-up.
python "$SUMO_HOME/tools/randomTrips.py" -n "$work/grid.net.xml" -o "$work/veh.trips.xml" -r "$work/veh.rou.xml" \
  --seed $VEH_SEED -b 0 -e 900 -p 4 --fringe-factor 3 --min-distance 600 --validate >/dev/null
sumo -n "$work/grid.net.xml" -r "$work/veh.rou.xml" --begin 0 --end 900 --step-length 1 --seed $VEH_SEED \
  --device.fcd.begin 300 --fcd-output "$work/veh.fcd.xml" --no-step-log true --no-warnings true >/dev/null

# Pedestrians: a walk every 4 s, same window.
# (-r: randomTrips otherwise writes its routed copy to ./routes.rou.xml in the project root.)
python "$SUMO_HOME/tools/randomTrips.py" -n "$work/grid.net.xml" -o "$work/ped.rou.xml" -r "$work/ped.routed.xml" \
  --pedestrians --seed $PED_SEED -b 0 -e 900 -p 4 --min-distance 300 >/dev/null
sumo -n "$work/grid.net.xml" -r "$work/ped.rou.xml" --begin 0 --end 900 --step-length 1 --seed $PED_SEED \
  --device.fcd.begin 300 --fcd-output "$work/ped.fcd.xml" --no-step-log true --no-warnings true >/dev/null

for kind in veh ped; do
  name=$([ $kind = veh ] && echo vehicular || echo pedestrian)
  "$BIN" trace import --format sumo-fcd "$work/$kind.fcd.xml" -o "$OUT/$name.csv.gz"
  "$BIN" trace info "$OUT/$name.csv.gz"
done

# Held-out evaluation traces (docs/heldout.md): networks and seeds that no
# training world uses, so that `edgebench score` on them judges adaptation,
# not memory. Apart by construction: other generators (a 5 x 5 grid of 220 m
# blocks, a random planar network), seeds from 200 up where the training
# traces use 1, 11 and 12 (checked below), a directory of their own that
# `edgebench train` refuses to read. 200 s of FCD after the same 300 s warm-up.
HELD=scenarios/data/heldout
mkdir -p "$HELD"
GRID5_SEED=201 RANDOM_SEED=202
for s in $GRID5_SEED $RANDOM_SEED 211 212 221 222; do
  for t in $NET_SEED $VEH_SEED $PED_SEED; do [ "$s" != "$t" ] || { echo "held-out seed $s is a training seed" >&2; exit 1; }; done
done
netgenerate --grid --grid.number 5 --grid.length 220 --default.lanenumber 1 --sidewalks.guess \
  --seed $GRID5_SEED --no-turnarounds false -o "$work/grid5.net.xml" >/dev/null
netgenerate --rand --rand.iterations 150 --rand.bidi-probability 1 --default.lanenumber 1 --sidewalks.guess \
  --seed $RANDOM_SEED --no-turnarounds false -o "$work/random.net.xml" >/dev/null
# held_out NET KIND SEED: trips, simulation and import of one held-out trace.
held_out() {
  local net=$1 kind=$2 seed=$3 trips=() routes
  # As above: vehicles drive the validated routes (-r), pedestrians walk the trips file (-o).
  if [ "$kind" = vehicular ]; then
    trips=(--fringe-factor 3 --min-distance 500 --validate)
    routes="$work/$net-$kind.rou.xml"
  else
    trips=(--pedestrians --min-distance 300)
    routes="$work/$net-$kind.trips.xml"
  fi
  python "$SUMO_HOME/tools/randomTrips.py" -n "$work/$net.net.xml" -o "$work/$net-$kind.trips.xml" \
    -r "$work/$net-$kind.rou.xml" --seed "$seed" -b 0 -e 500 -p 4 "${trips[@]}" >/dev/null
  sumo -n "$work/$net.net.xml" -r "$routes" --begin 0 --end 500 --step-length 1 --seed "$seed" \
    --device.fcd.begin 300 --fcd-output "$work/$net-$kind.fcd.xml" --no-step-log true --no-warnings true >/dev/null
  "$BIN" trace import --format sumo-fcd "$work/$net-$kind.fcd.xml" -o "$HELD/$net-$kind.csv.gz"
  "$BIN" trace info "$HELD/$net-$kind.csv.gz"
}
held_out grid5 vehicular 211
held_out grid5 pedestrian 212
held_out random vehicular 221
held_out random pedestrian 222
# A small FCD excerpt (the first 20 s of vehicles) for the importer tests.
python - "$work/veh.fcd.xml" "$OUT/sumo-excerpt.fcd.xml" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
out, steps = [], 0
for line in open(src):
    if "<timestep" in line:
        steps += 1
        if steps > 20:
            break
    out.append(line)
out.append("</fcd-export>\n")
open(dst, "w").writelines(out)
PY
ls -la "$OUT" "$HELD"
