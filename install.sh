#!/usr/bin/env bash
# Install everything SurgiPlan needs on a fresh Debian/Ubuntu machine:
# the system libraries (Qt/VTK runtime, Xvfb for GUI tests, EGL for off-screen pictures, dcmtk
# for 12-bit JPEG), then a virtual environment in .venv with SurgiPlan and its test tools.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  libegl1 libgl1-mesa-dri libgl1 xvfb xauth libdbus-1-3 libfontconfig1 libglib2.0-0
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
  libxcb-render-util0 libxcb-shape0 poppler-utils dcmtk libsuitesparse-dev libopenblas0-pthread
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ! python3 -m venv --help >/dev/null 2>&1; then missing+=(python3-venv python3-pip); fi
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
else
  echo "warning: no apt-get; install the equivalents of: ${APT_PACKAGES[*]}" >&2
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# CHOLMOD with OpenBLAS for the FEM (scikit-sparse builds against libsuitesparse-dev; 0.5 does not).
# Without it the FEM falls back to cholespy's self-contained CHOLMOD (reference BLAS, slower).
if dpkg -s libsuitesparse-dev >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q "scikit-sparse==0.4.16" \
    || echo "warning: scikit-sparse did not build; the FEM uses cholespy (slower)" >&2
fi
echo "SurgiPlan installed in $(pwd)/.venv"
