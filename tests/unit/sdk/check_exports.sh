#!/usr/bin/env bash
# libmqstate.so and libmqstate.a define no global symbol outside the public
# API (mqs_*): an application linking either one, statically or not, cannot
# collide with the store/util code compiled into them (xmalloc, buf_*,
# hlc_*, resp_*...). Usage: check_exports.sh LIBMQSTATE.so LIBMQSTATE.a
set -u
so=$1 a=$2 failed=0

check() { # check WHAT SYMBOLS-FILE
    local bad
    bad=$(grep -v '^mqs_' "$2" | sort -u)
    if [[ -n $bad ]]; then
        echo "FAIL: $1 exports $(wc -l <<<"$bad") non-mqs_ symbol(s):" $(head -20 <<<"$bad") >&2
        failed=1
    fi
    grep -qx mqs_client_new "$2" || { echo "FAIL: $1 lacks mqs_client_new" >&2; failed=1; }
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Dynamic symbol table of the shared library (the version node is not a symbol).
nm -D --defined-only "$so" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}' >"$tmp/so"
# Global definitions of every member of the archive.
nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' >"$tmp/a"
check "$so" "$tmp/so"
check "$a" "$tmp/a"
# Internal names the static library used to leak, by name.
for sym in xmalloc buf_free hlc_parse resp_put_request; do
    nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' | grep -qx "$sym" &&
        { echo "FAIL: $a exports $sym" >&2; failed=1; }
done
((failed)) && exit 1
echo "1 passed, 0 failed"
