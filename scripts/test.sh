#!/usr/bin/env bash
# The one test command: builds libcgrad and runs every test, then prints a summary whose
# last line is `N passed, N failed`, counting individual test cases over all runs.
#
#   plain    gcc, release build with -march=native and -Werror (build-test/), all suites
#   asan     clang with -fsanitize=address,undefined and -Werror (build-asan/), all suites
#            under the `asan` test setup (tests/lsan.supp)
#   install  `meson install --destdir` of build-test/, then docs/example_grad.c (the README's
#            example, checked identical) compiled with pkg-config against it, linked shared
#            and static, and run
#   valgrind (only with --valgrind) a -Dnative=false build (build-valgrind/), all suites
#            under the `valgrind` test setup (tests/valgrind.supp)
#
# Usage: scripts/test.sh [--valgrind] [--no-asan]
# Exit status: 0 when every case passed. Missing Debian packages are installed first.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
. scripts/deps.sh

do_asan=1
do_valgrind=0
for arg in "$@"; do
    case "$arg" in
    --valgrind) do_valgrind=1 ;;
    --no-asan) do_asan=0 ;;
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "unknown argument: $arg (see --help)" >&2
        exit 2
        ;;
    esac
done

summary=()   # arguments for scripts/count_tests.py, one run each
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section() { printf '\n==== %s ====\n' "$*"; }

# shellcheck disable=SC2086  # the package lists are word lists
packages="$CG_BUILD_PACKAGES"
[ "$do_asan" = 1 ] && packages="$packages $CG_TEST_PACKAGES"
[ "$do_valgrind" = 1 ] && packages="$packages $CG_VALGRIND_PACKAGES"
# shellcheck disable=SC2086
if ! cg_install_missing $packages; then
    summary+=(--extra "packages=0,1")
fi

# build LABEL DIR CC MESON_OPTION...: configure (or reconfigure) and compile DIR.
build() {
    local label=$1 dir=$2 compiler=$3
    shift 3
    section "$label: build ($dir, $compiler $*)"
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$dir" "$@" >"$tmp/setup-$label.log" 2>&1
    else
        CC=$compiler meson setup "$dir" "$@" >"$tmp/setup-$label.log" 2>&1
    fi || {
        cat "$tmp/setup-$label.log"
        echo "$label: meson setup failed"
        summary+=(--extra "$label-build=0,1")
        return 1
    }
    if ! meson compile -C "$dir"; then
        echo "$label: build failed"
        summary+=(--extra "$label-build=0,1")
        return 1
    fi
}

# run_tests LABEL DIR [SETUP] [SUITE...]: meson test, recording its JSON log for the count.
run_tests() {
    local label=$1 dir=$2 setup=${3:-}
    shift 3 2>/dev/null || shift $#
    section "$label: tests"
    # meson names the log <logbase>[-<setup>].json
    local log="$dir/meson-logs/ci-$label${setup:+-$setup}.json"
    rm -f "$log"
    meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "ci-$label" \
        ${setup:+--setup "$setup"} "$@"
    summary+=("$label=$log")
}

# install_check DIR: install into a scratch root and build the README example against it.
install_check() {
    local dir=$1 dest="$tmp/destdir" pass=0 fail=0
    section "install: meson install --destdir, README example via pkg-config"
    check() { # check NAME COMMAND...: one counted case
        local name=$1
        shift
        if "$@"; then
            echo "ok - $name"
            pass=$((pass + 1))
        else
            echo "not ok - $name"
            fail=$((fail + 1))
        fi
    }
    readme_example_matches() {
        awk '/<!-- docs\/example_grad.c -->/ { f = 1; next }
             f && /^```c$/ { g = 1; next }
             g && /^```$/ { exit }
             g { print }' README.md >"$tmp/readme_example.c"
        diff -u docs/example_grad.c "$tmp/readme_example.c"
    }
    installed() {
        meson install -C "$dir" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1 ||
            { cat "$tmp/install.log"; return 1; }
        pc=$(find "$dest" -name cgrad.pc -print -quit)
        if [ -z "$pc" ] || [ ! -f "$(dirname "$pc")/../libcgrad.a" ] ||
            [ -z "$(find "$dest" -path '*/include/cgrad/cgrad.h')" ] ||
            [ -n "$(find "$dest" -name core.h)" ]; then # internal headers stay private
            echo "unexpected install tree:"
            (cd "$dest" && find . -type f)
            return 1
        fi
    }
    # run_example LINKAGE: compile with pkg-config's flags and check the printed gradient.
    run_example() {
        local libs exe="$tmp/example_$1" want="loss = 40.25, dloss/dw = [1, -8, 36]" got
        export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR="$dest"
        PKG_CONFIG_PATH=$(dirname "$pc")
        if [ "$1" = static ]; then # the archive, with Libs.private's dependencies
            libs=$(pkg-config --static --libs cgrad) || return 1
            libs=${libs//-lcgrad/-l:libcgrad.a}
        else
            libs=$(pkg-config --libs cgrad) || return 1
        fi
        # shellcheck disable=SC2046,SC2086
        echo "cc -std=c11 -Wall -Wextra -pedantic -Werror docs/example_grad.c" \
            "$(pkg-config --cflags cgrad) $libs"
        # shellcheck disable=SC2046,SC2086
        cc -std=c11 -Wall -Wextra -pedantic -Werror docs/example_grad.c \
            $(pkg-config --cflags cgrad) $libs -o "$exe" || return 1
        got=$(LD_LIBRARY_PATH="$(dirname "$(dirname "$pc")")" "$exe") || {
            echo "$got"
            return 1
        }
        echo "$got"
        [ "$got" = "$want" ] || { echo "expected: $want"; return 1; }
    }
    check "README example is docs/example_grad.c" readme_example_matches
    check "meson install: headers, libraries and cgrad.pc" installed
    if [ "$fail" = 0 ] || [ -n "${pc:-}" ]; then
        check "example linked with pkg-config --libs (shared) runs" run_example shared
        check "example linked with pkg-config --static --libs runs" run_example static
    else
        fail=$((fail + 2))
    fi
    summary+=(--extra "install=$pass,$fail")
}

plain_ok=0
if build plain build-test gcc -Dwerror=true -Dbuildtype=release; then
    plain_ok=1
    run_tests plain build-test ""
fi

if [ "$do_asan" = 1 ] &&
    build asan build-asan clang -Dwerror=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false; then
    run_tests asan build-asan asan
fi

if [ "$plain_ok" = 1 ]; then
    install_check build-test
fi

if [ "$do_valgrind" = 1 ] &&
    build valgrind build-valgrind gcc -Dwerror=true -Dbuildtype=debugoptimized -Dnative=false; then
    run_tests valgrind build-valgrind valgrind
fi

python3 scripts/count_tests.py "${summary[@]}"
