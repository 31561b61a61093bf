#!/usr/bin/env bash
# Idempotent machine set-up: system packages that the -sys crates need and the
# project venv holding libtorch 2.13.0 (for the `dppo` feature). Safe to re-run;
# each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
# bindgen (highs-sys) needs libclang; any libclang-*.so found by ldconfig will do.
ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' || need_apt+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
# MPI (feature `mpi`): MPICH rather than Open MPI, which refuses to run as
# root without --allow-run-as-root and needs --oversubscribe beyond the cores.
{ command -v mpirun >/dev/null 2>&1 && pkg-config --exists mpich 2>/dev/null; } || need_apt+=(mpich libmpich-dev pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

TORCH_DIR=".venv/lib/python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages/torch"
if [ ! -f "$TORCH_DIR/lib/libtorch_cpu.so" ]; then
  echo "setup: creating .venv with torch==2.13.0 (C++ library only is used)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --no-deps \
    torch==2.13.0 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
fi
echo "setup: ok (cmake $(cmake --version | head -1 | awk '{print $3}'), MPICH $(pkg-config --modversion mpich), libtorch in $TORCH_DIR)"
