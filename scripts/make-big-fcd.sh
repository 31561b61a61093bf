#!/usr/bin/env bash
# A SUMO-made FCD file of about 1.2 million vehicle records for `make
# importbench`: a 10 x 10 street grid (200 m blocks), a random trip every
# 0.2 s for 900 s, every record as SUMO writes it (id, x, y, angle, type,
# speed, pos, lane, slope). Deterministic (seeded); cached at $1.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/importbench/sumo.fcd.xml}
[ -s "$OUT" ] && exit 0
bash scripts/setup.sh
[ -x .venv/bin/sumo ] || .venv/bin/pip install -q --disable-pip-version-check eclipse-sumo==1.28.0
SUMO_HOME=$(.venv/bin/python -c "import sumo; print(sumo.SUMO_HOME)")
export SUMO_HOME PATH="$PWD/.venv/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$OUT")"
netgenerate --grid --grid.number 10 --grid.length 200 --default.lanenumber 2 --seed 3 -o "$work/grid.net.xml" >/dev/null
python "$SUMO_HOME/tools/randomTrips.py" -n "$work/grid.net.xml" -o "$work/trips.xml" -r "$work/routes.xml" \
  --seed 31 -b 0 -e 900 -p 0.2 --fringe-factor 3 --min-distance 1000 --validate >/dev/null
sumo -n "$work/grid.net.xml" -r "$work/routes.xml" --begin 0 --end 900 --step-length 1 --seed 31 \
  --fcd-output "$work/fcd.xml" --no-step-log true --no-warnings true >/dev/null
mv "$work/fcd.xml" "$OUT"
echo "$OUT: $(grep -c '<vehicle ' "$OUT") records"
