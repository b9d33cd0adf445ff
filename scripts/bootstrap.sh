#!/usr/bin/env bash
# Set up libcgrad from a fresh Debian 12 checkout: install the missing Debian packages
# (Fashion-MNIST included), build the library (build/), and run the main job: cgrad-train,
# an MLP trained on Fashion-MNIST with its defaults; outputs in runs/mlp/, and the last line
# of output is test_accuracy=0.XXXX (README's "Set up", docs/training.md).
#   scripts/bootstrap.sh [cgrad-train options]      e.g. --model cnn
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

# shellcheck disable=SC2086  # the package lists are word lists
cg_install_missing $CG_BUILD_PACKAGES

if [ -f build/meson-private/coredata.dat ]; then
    meson setup --reconfigure build
else
    meson setup build
fi
meson compile -C build

./build/tools/cgrad-train "$@"
