#!/usr/bin/env bash
# Installs dependencies, builds rtseg (Release) into build/ and runs the main job on the embedded
# default: the two-stage flow (detector, then mask head on the frozen detector) on synthetic
# shapes, on the CPU, ending with box and mask AP and the prediction pictures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh Release
rtseg=build/bin/rtseg
"$rtseg" version
"$rtseg" recipe check recipes/variants/*.toml recipes/pipelines/*.toml recipes/quickstart.toml
"$rtseg" run recipes/quickstart.toml "$@"
