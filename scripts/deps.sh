# shellcheck shell=bash disable=SC2034  # sourced: the lists are used by the sourcing script
# Debian packages libcgrad needs, and a function that installs the missing ones.
# Sourced by scripts/bootstrap.sh and scripts/test.sh; not run on its own.

# Building the library and the example; the test suites (cmocka); zlib for gzipped datasets,
# and Fashion-MNIST's files (dataset-fashion-mnist: the real-data tests, which skip without
# it); diagram rendering (Graphviz) is listed now so one install serves every stage.
CG_BUILD_PACKAGES="meson ninja-build pkg-config gcc libc6-dev libblis-openmp-dev
  libcmocka-dev zlib1g-dev libgraphviz-dev dataset-fashion-mnist"
# Checkpoints parse their JSON header with cJSON; training curves are drawn by PLplot, whose
# PNG and SVG devices come in plplot-driver-cairo (loaded at run time, not linked).
CG_BUILD_PACKAGES="$CG_BUILD_PACKAGES libcjson-dev libplplot-dev plplot-driver-cairo"
# The sanitizer run: clang, its OpenMP runtime, and its ASan/UBSan runtimes.
CG_TEST_PACKAGES="clang libomp-dev libclang-rt-14-dev"
# The valgrind test setup (scripts/test.sh --valgrind).
CG_VALGRIND_PACKAGES="valgrind"
# Optional, for the benchmark's PyTorch side only (tools/cgrad-bench; no build or test needs
# them): PyTorch, and OpenBLAS (OpenMP flavour) as the system BLAS that Debian's torch then
# loads through libblas.so.3. Install with: cg_install_missing $CG_BENCH_PACKAGES
CG_BENCH_PACKAGES="python3-torch libopenblas0-openmp"

# cg_install_missing PKG...: apt-get install the packages not installed yet (nothing to do,
# no network, when all are there). Uses sudo only when not root.
cg_install_missing() {
    local missing="" p
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" != "ii " ]; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "missing Debian packages:$missing (run as root or install sudo)" >&2
            return 1
        fi
        sudo="sudo"
    fi
    echo "installing missing Debian packages:$missing"
    # shellcheck disable=SC2086  # $missing is a word list
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}
