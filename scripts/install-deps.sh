#!/usr/bin/env bash
# Installs every Debian 12 package rtseg needs to build, test and run. Idempotent: packages that
# are already installed are skipped, so a second run costs a few seconds. Extra packages given as
# arguments are installed too (scripts/fuzz.sh asks for clang).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries the project links (one shared copy each)
  libtorch-dev
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

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OpenBLAS built for OpenMP (see select_openmp_blas below). Wanted, not needed: without it rtseg
# still runs, giving BLAS one thread per call, so a machine that cannot fetch it goes on.
if ! dpkg-query -W -f='${Status}' libopenblas0-openmp 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: installing libopenblas0-openmp"
  export DEBIAN_FRONTEND=noninteractive
  if ! { [ ${#missing[@]} -gt 0 ] || $sudo apt-get update -qq; } ||
     ! $sudo apt-get install -y -qq --no-install-recommends libopenblas0-openmp; then
    echo "install-deps: warning: could not install libopenblas0-openmp; CPU training will be slower" >&2
  fi
fi

# Debian's LibTorch calls the system BLAS (libblas.so.3). With OpenBLAS's pthreads build -- the
# one Debian prefers when both are installed -- BLAS keeps a thread pool of its own that fights
# LibTorch's OpenMP threads for the cores: CPU training steps take up to 2x as long. Select the
# OpenMP build for the BLAS/LAPACK interfaces (rtseg still copes with the other: it then gives
# BLAS one thread per call and says so in the log).
select_openmp_blas() {
  local multiarch
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
  local name target
  for name in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    target=/usr/lib/$multiarch/openblas-openmp/$name
    [ -e "$target" ] || continue
    if [ "$(readlink -f "/etc/alternatives/$name-$multiarch")" != "$(readlink -f "$target")" ]; then
      if $sudo update-alternatives --quiet --set "$name-$multiarch" "$target"; then
        echo "install-deps: $name -> $target"
      else
        echo "install-deps: warning: could not select $target" >&2
      fi
    fi
  done
}
select_openmp_blas
