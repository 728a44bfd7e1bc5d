#!/usr/bin/env bash
# Installs every Debian 12 package rtseg needs to build, test and run. Idempotent: packages that
# are already installed are skipped, so a second run costs a few seconds. Extra packages given as
# arguments are installed too (scripts/fuzz.sh asks for clang).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries the project links (one shared copy each)
  libtorch-dev libopenblas0-pthread
  libboost-dev libtomlplusplus-dev libspdlog-dev libabsl-dev
  libgtest-dev libgmock-dev libcli11-dev libsimdjson-dev nlohmann-json3-dev
  libturbojpeg0-dev libspng-dev libgloo-dev
  # reference checks in the tests (SciPy's assignment solver, PyTorch)
  python3 python3-numpy python3-scipy python3-torch
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
