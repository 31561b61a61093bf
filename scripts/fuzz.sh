#!/usr/bin/env bash
# Fuzz every target (or those named) for FUZZ_SECONDS each with cargo-fuzz on
# stable Rust (-s none: no sanitizer, libFuzzer's coverage only). Memory is
# capped (a parser must not allocate far beyond its input: -malloc_limit_mb),
# new corpus entries land in fuzz/corpus/<target>/, crashes in
# fuzz/artifacts/<target>/ (copy a fixed one to fuzz/found/<target>/ so that
# `cargo test` replays it). Prints executions and coverage per target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
# libtorch for the checkpoint targets, as the Makefile sets it.
if [ -z "${LIBTORCH:-}" ]; then
  LIBTORCH=$(cd .. && pwd)/.venv/lib/python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages/torch
  export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib:${LD_LIBRARY_PATH:-}"
fi
SECONDS_EACH=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
ALL=(scenario_toml sumo_fcd bonnmotion trace_csv site_csv trace_file regress_baseline cli_values checkpoint_weights checkpoint_sidecar)
TARGETS=("${@:-${ALL[@]}}")
features() {
  case "$1" in
    checkpoint_*) echo "--features dppo" ;;
    trace_file|regress_baseline|cli_values) echo "--features harness" ;;
    *) echo "" ;;
  esac
}
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # shellcheck disable=SC2046
  cargo fuzz run -s none -O $(features "$t") "$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -malloc_limit_mb=256 -max_len=65536 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="artifacts/$t/" 2>"artifacts/$t.log" || {
      echo "$t: FAILED, see fuzz/artifacts/$t.log"; tail -30 "artifacts/$t.log"; continue; }
  echo "$t: $(grep -E '^stat::number_of_executed_units' "artifacts/$t.log" | awk '{print $2}') runs in ${SECONDS_EACH}s, $(grep -oE 'cov: [0-9]+' "artifacts/$t.log" | tail -1)"
done
