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

# A 7 x 7 street grid with 150 m blocks (900 m square), sidewalks for pedestrians.
netgenerate --grid --grid.number 7 --grid.length 150 --default.lanenumber 1 --sidewalks.guess \
  --seed 1 --no-turnarounds false -o "$work/grid.net.xml" >/dev/null

# Vehicles: a trip every 4 s for 900 s, simulated for 600 s after a 300 s warm-up.
python "$SUMO_HOME/tools/randomTrips.py" -n "$work/grid.net.xml" -o "$work/veh.trips.xml" -r "$work/veh.rou.xml" \
  --seed 11 -b 0 -e 900 -p 4 --fringe-factor 3 --min-distance 600 --validate >/dev/null
sumo -n "$work/grid.net.xml" -r "$work/veh.rou.xml" --begin 0 --end 900 --step-length 1 --seed 11 \
  --device.fcd.begin 300 --fcd-output "$work/veh.fcd.xml" --no-step-log true --no-warnings true >/dev/null

# Pedestrians: a walk every 4 s, same window.
# (-r: randomTrips otherwise writes its routed copy to ./routes.rou.xml in the project root.)
python "$SUMO_HOME/tools/randomTrips.py" -n "$work/grid.net.xml" -o "$work/ped.rou.xml" -r "$work/ped.routed.xml" \
  --pedestrians --seed 12 -b 0 -e 900 -p 4 --min-distance 300 >/dev/null
sumo -n "$work/grid.net.xml" -r "$work/ped.rou.xml" --begin 0 --end 900 --step-length 1 --seed 12 \
  --device.fcd.begin 300 --fcd-output "$work/ped.fcd.xml" --no-step-log true --no-warnings true >/dev/null

for kind in veh ped; do
  name=$([ $kind = veh ] && echo vehicular || echo pedestrian)
  "$BIN" trace import --format sumo-fcd "$work/$kind.fcd.xml" -o "$OUT/$name.csv.gz"
  "$BIN" trace info "$OUT/$name.csv.gz"
done
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
ls -la "$OUT"
