#!/usr/bin/env bash
# Set up libcgrad from a fresh Debian 12 checkout: install the missing Debian packages,
# build the library (build/), and run the main job, the example trainer, whose loss falls.
#   scripts/bootstrap.sh [steps]
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

./build/tools/cgrad-example "$@"
