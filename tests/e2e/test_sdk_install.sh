#!/usr/bin/env bash
# The SDK as docs/sdk.md tells users to install and use it:
#   - a Release build configured with -DMQS_BUILD_TESTS=OFF, installed with
#     `cmake --install --prefix` into a temporary prefix;
#   - examples/counter.c built with the documented pkg-config commands,
#     shared (with the documented rpath) and static (mqstate-static), and
#     run against mqstated without LD_LIBRARY_PATH;
#   - a static program defining its own xmalloc/buf_free (names the SDK
#     uses inside) links without a clash;
#   - configuring with -DMQS_BUILD_TESTS=OFF -DMQS_BUILD_SDK=OFF needs
#     neither cmocka nor libmosquitto (their .pc files hidden).
# Usage: test_sdk_install.sh BUILD_DIR SOURCE_DIR (BUILD_DIR is unused but
# kept so the test names the tree it belongs to).
. "$(dirname "$0")/lib.sh"

if ((!MQS_IS_MQSTATED)); then
    echo "SDK install test needs mqstated (the example uses the state store): skipped" >&2
    exit 77
fi
SRC=${2:?source directory}
CC=${CC:-cc}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)

# One Release build of the installed targets, shared by the tests below.
build_and_install() {
    local b=$MQS_DIR/build prefix=$MQS_DIR/prefix
    cmake -S "$SRC" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMQS_BUILD_TESTS=OFF \
        "${launcher[@]}" >"$MQS_DIR/configure.log" 2>&1 ||
        { mqs_fail "configure: $(tail -5 "$MQS_DIR/configure.log")"; return 1; }
    # mqstated too: `cmake --install` installs the server with the SDK.
    cmake --build "$b" --target mqstate mqstate_static_archive mqstate_cli mqstated >"$MQS_DIR/build.log" 2>&1 ||
        { mqs_fail "build: $(tail -20 "$MQS_DIR/build.log")"; return 1; }
    cmake --install "$b" --prefix "$prefix" >"$MQS_DIR/install.log" 2>&1 ||
        { mqs_fail "install: $(tail -5 "$MQS_DIR/install.log")"; return 1; }
    INSTALLED=$prefix
}

test_pkg_config_shared_and_static() {
    build_and_install || return
    local prefix=$INSTALLED app=$SRC/examples/counter.c
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    # Shared, as documented for a prefix the loader does not search.
    # shellcheck disable=SC2046
    $CC "$app" $(pkg-config --cflags --libs mqstate) -Wl,-rpath,"$prefix/lib" \
        -o "$MQS_DIR/counter-shared" 2>"$MQS_DIR/cc.err" ||
        { mqs_fail "shared build: $(cat "$MQS_DIR/cc.err")"; return; }
    # shellcheck disable=SC2046
    $CC "$app" $(pkg-config --cflags --libs mqstate-static) -o "$MQS_DIR/counter-static" \
        2>"$MQS_DIR/cc.err" || { mqs_fail "static build: $(cat "$MQS_DIR/cc.err")"; return; }
    readelf -d "$MQS_DIR/counter-shared" | grep -q 'NEEDED.*libmqstate\.so\.0' ||
        mqs_fail "the shared build does not use libmqstate.so.0"
    readelf -d "$MQS_DIR/counter-static" | grep -q 'libmqstate' &&
        mqs_fail "the static build still needs libmqstate.so"
    local static_libs
    static_libs=$(pkg-config --libs --static mqstate)
    [[ $static_libs == *-lmosquitto* && $static_libs == *-lssl* ]] ||
        mqs_fail "pkg-config --static lacks libmosquitto or OpenSSL: $static_libs"
    # The shared build needs no OpenSSL .pc (a private dependency).
    [[ $(pkg-config --print-requires-private mqstate) != *openssl* ]] ||
        mqs_fail "mqstate.pc requires openssl.pc"
    env -u LD_LIBRARY_PATH "$MQS_DIR/counter-shared" -h 127.0.0.1 -p "$MQS_PORT" -n 3 -k c \
        2>"$MQS_DIR/run.err" || mqs_fail "shared counter: $(cat "$MQS_DIR/run.err")"
    env -u LD_LIBRARY_PATH "$MQS_DIR/counter-static" -h 127.0.0.1 -p "$MQS_PORT" -n 4 -k c \
        2>"$MQS_DIR/run.err" || mqs_fail "static counter: $(cat "$MQS_DIR/run.err")"
    local got
    got=$("$prefix/bin/mqstate" -h 127.0.0.1 -p "$MQS_PORT" get c)
    [[ $got == 7 ]] || mqs_fail "counter is '$got', want 7"

    # An application with its own xmalloc and buf_free links statically.
    cat >"$MQS_DIR/own.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <mqstate/mqstate.h>
void *xmalloc(size_t n) { return malloc(n); }
void buf_free(void *b) { free(b); }
int main(void)
{
    char id[64];
    void *p = xmalloc(8);
    buf_free(p);
    return mqs_client_id_generate("own", id, sizeof id) ? 0 : 1;
}
C
    # shellcheck disable=SC2046
    $CC "$MQS_DIR/own.c" $(pkg-config --cflags --libs mqstate-static) -o "$MQS_DIR/own" \
        2>"$MQS_DIR/cc.err" || { mqs_fail "own xmalloc: $(cat "$MQS_DIR/cc.err")"; return; }
    "$MQS_DIR/own" || mqs_fail "own xmalloc program failed"
}

test_configure_without_sdk_and_tests() {
    local pc=$MQS_DIR/pc d f
    mkdir -p "$pc"
    # Every .pc the system has except cmocka's and libmosquitto's.
    for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
        for f in "$d"/*.pc; do
            [[ -e $f ]] || continue
            case $(basename "$f") in cmocka.pc | libmosquitto.pc) continue ;; esac
            [[ -e $pc/$(basename "$f") ]] || ln -s "$f" "$pc/"
        done
    done
    PKG_CONFIG_LIBDIR=$pc cmake -S "$SRC" -B "$MQS_DIR/b-default" -G Ninja >"$MQS_DIR/c1.log" 2>&1 &&
        mqs_fail "configure with the defaults succeeded without libmosquitto and cmocka"
    PKG_CONFIG_LIBDIR=$pc cmake -S "$SRC" -B "$MQS_DIR/b-server" -G Ninja -DMQS_BUILD_TESTS=OFF \
        -DMQS_BUILD_SDK=OFF >"$MQS_DIR/c2.log" 2>&1 ||
        mqs_fail "server-only configure failed: $(grep -A3 -i error "$MQS_DIR/c2.log" | head -10)"
    grep -Eq "Checking for module '(cmocka|libmosquitto)'" "$MQS_DIR/c2.log" &&
        mqs_fail "server-only configure still checks for cmocka or libmosquitto"
    grep -q 'mqstated' "$MQS_DIR/b-server/build.ninja" 2>/dev/null ||
        mqs_fail "server-only configure has no mqstated target"
}

mqs_run_tests test_pkg_config_shared_and_static test_configure_without_sdk_and_tests
